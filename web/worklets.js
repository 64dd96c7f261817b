// Audio worklets: microphone capture (to 16 kHz PCM16) and reply playback (flushable).

// Captures the microphone, resamples to 16 kHz by linear interpolation, and posts
// 20 ms Int16 frames to the main thread.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / 16000;
    this.pos = 0;          // fractional read position in the input stream
    this.prev = 0;         // last sample of the previous block, for interpolation
    this.frame = new Int16Array(320);
    this.fill = 0;
  }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    while (this.pos < input.length) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i === 0 ? this.prev : input[i - 1];
      const b = input[i];
      const s = Math.max(-1, Math.min(1, a + (b - a) * frac));
      this.frame[this.fill++] = s * 32767;
      if (this.fill === this.frame.length) {
        this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
        this.frame = new Int16Array(320);
        this.fill = 0;
      }
      this.pos += this.ratio;
    }
    this.pos -= input.length;
    this.prev = input[input.length - 1];
    return true;
  }
}

// Plays reply audio: Int16 frames at the server's rate are resampled to the context
// rate into a queue; "hold" stops playing and keeps the queue (the reply is paused)
// until "hold" off; "flush" empties it at once; played samples (at the server's
// rate) are reported per turn so the server can cut its history to what was heard.
class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];       // [{samples: Float32Array, turn}]
    this.offset = 0;
    this.inRate = 22050;
    this.played = {};      // turn -> samples played, at the server's rate
    this.lastReport = 0;
    this.holding = false;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "flush") { this.queue = []; this.offset = 0; this.holding = false; this.report(); }
      else if (m.type === "hold") { this.holding = m.on; }
      else if (m.type === "rate") { this.inRate = m.rate; }
      else if (m.type === "audio") { this.queue.push({ samples: this.resample(new Int16Array(m.pcm)), turn: m.turn }); }
    };
  }
  resample(pcm) {
    const ratio = this.inRate / sampleRate;
    const n = Math.floor(pcm.length / ratio);
    const out = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const x = j * ratio, i = Math.floor(x), f = x - i;
      const a = pcm[i] / 32768, b = (i + 1 < pcm.length ? pcm[i + 1] : pcm[i]) / 32768;
      out[j] = a + (b - a) * f;
    }
    return out;
  }
  report() {
    this.port.postMessage({ type: "played", played: this.played, queued: this.queue.length });
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    let k = 0;
    while (k < out.length && this.queue.length && !this.holding) {
      const head = this.queue[0];
      const take = Math.min(out.length - k, head.samples.length - this.offset);
      out.set(head.samples.subarray(this.offset, this.offset + take), k);
      k += take;
      this.offset += take;
      this.played[head.turn] = (this.played[head.turn] || 0) + take * this.inRate / sampleRate;
      if (this.offset >= head.samples.length) { this.queue.shift(); this.offset = 0; }
    }
    for (; k < out.length; k++) out[k] = 0;
    if (currentTime - this.lastReport > 0.1) { this.lastReport = currentTime; this.report(); }
    return true;
  }
}

registerProcessor("capture-processor", CaptureProcessor);
registerProcessor("playback-processor", PlaybackProcessor);
