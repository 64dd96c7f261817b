// The browser client: microphone to the server, replies to the speakers, and what happens on screen.

const $ = (id) => document.getElementById(id);
const state = { ws: null, ready: null, ctx: null, stream: null, capture: null, playback: null, turns: new Map(), played: {} };
// Exposed for the end-to-end test (and for the curious, in the console).
window.assistantStats = { framesSent: 0, audioFramesReceived: 0, playedSamples: 0, events: [] };

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function turn(id) {
  if (!state.turns.has(id)) {
    const el = document.createElement("article");
    el.className = "turn";
    el.innerHTML = `
      <div class="you"><span class="label">You</span><span class="partial"></span><span class="final"></span></div>
      <div class="nbest"></div>
      <div class="intent"></div>
      <div class="reply"><span class="label">Assistant</span><span class="text"></span></div>
      <div class="timeline"></div>`;
    $("turns").prepend(el);
    state.turns.set(id, { el, marks: {}, reply: "" });
  }
  return state.turns.get(id);
}

function mark(t, name) {
  if (!(name in t.marks)) t.marks[name] = performance.now();
}

function renderTimeline(t, metrics) {
  const m = t.marks;
  const parts = [];
  if (m.stopped && m.firstAudio) parts.push(`<b>${Math.round(m.firstAudio - m.stopped)} ms</b> from end of speech to first reply audio`);
  if (metrics) {
    const names = { asr_final_ms: "ASR final", understand_ms: "understand", first_text_ms: "first text", tts_first_audio_ms: "TTS first audio" };
    for (const [k, label] of Object.entries(names)) if (k in metrics) parts.push(`${label} ${Math.round(metrics[k])} ms`);
  }
  t.el.querySelector(".timeline").innerHTML = parts.join(" · ");
}

function onEvent(ev) {
  window.assistantStats.events.push(ev.type);
  const t = ev.turn_id ? turn(ev.turn_id) : null;
  switch (ev.type) {
    case "session.created":
      state.playback.port.postMessage({ type: "rate", rate: ev.output_sample_rate });
      setStatus(state.stream ? "Listening: speak any time, and cut in whenever you like." : "Connected: type a message", "ok");
      break;
    case "input_audio_buffer.speech_started":
      mark(t, "started");
      t.el.classList.add("live");
      break;
    case "conversation.item.input_audio_transcription.partial":
      t.el.querySelector(".partial").innerHTML = `${ev.stable} <i>${ev.unstable}</i>`;
      break;
    case "input_audio_buffer.speech_stopped":
      mark(t, "stopped");
      break;
    case "conversation.item.input_text":
      t.el.classList.add("typed");
      t.el.querySelector(".final").textContent = ev.text;
      break;
    case "conversation.item.input_audio_transcription.completed":
      t.el.querySelector(".partial").textContent = "";
      t.el.querySelector(".final").textContent = ev.transcript || "(no words)";
      t.el.querySelector(".nbest").innerHTML = (ev.nbest || [])
        .map((h) => `<span class="hyp"><span class="bar" style="width:${Math.round(h.posterior * 100)}%"></span>${h.posterior.toFixed(2)} ${h.text}</span>`)
        .join("");
      if (!ev.transcript) t.el.classList.add("noise");
      break;
    case "assistant.understood": {
      const slots = (ev.slots || []).map(([k, v]) => `<code>${k}: ${v}</code>`).join(" ");
      const conf = ev.confidence == null ? "" : ` ${(ev.confidence * 100).toFixed(0)}%`;
      const who = ev.decided_by === "llm" ? " (chosen by the LLM)" : ` → ${ev.route}`;
      t.el.querySelector(".intent").innerHTML = `<span class="tag">${ev.intent}${conf}</span>${who} ${slots}`;
      break;
    }
    case "response.text.delta":
      t.reply += ev.delta;
      t.el.querySelector(".reply .text").textContent = t.reply;
      break;
    case "response.paused":  // stop at once, keep the queue: the server takes it out of its echo reference
      state.playback.port.postMessage({ type: "hold", on: true });
      t.el.classList.add("paused");
      break;
    case "response.resumed":
      state.playback.port.postMessage({ type: "hold", on: false });
      t.el.classList.remove("paused");
      break;
    case "interrupt": {
      state.playback.port.postMessage({ type: "flush" });
      const played = state.played[ev.turn_id] || 0;
      const ms = (1000 * played) / (state.outRate || 22050);
      state.ws.send(JSON.stringify({ type: "conversation.item.truncate", turn_id: ev.turn_id, audio_end_ms: ms }));
      t.el.classList.add("interrupted");
      t.el.querySelector(".reply .text").textContent = `${ev.heard_text}…`;
      break;
    }
    case "response.done":
      t.el.classList.remove("live", "paused");
      renderTimeline(t, ev.metrics);
      break;
    case "error":
      showError(`The assistant reported a problem: ${ev.message}`);
      break;
  }
}

// The connection and the speakers; the microphone joins when the person presses Start.
function connect() {
  if (state.ready) return state.ready;
  state.ctx = new AudioContext();
  state.ready = (async () => {
    await state.ctx.audioWorklet.addModule("worklets.js");
    state.playback = new AudioWorkletNode(state.ctx, "playback-processor");
    state.playback.connect(state.ctx.destination);
    state.playback.port.onmessage = (e) => {
      if (e.data.type === "played") {
        state.played = e.data.played;
        window.assistantStats.playedSamples = Object.values(e.data.played).reduce((a, b) => a + b, 0);
      }
    };
    setStatus("Connecting…");
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    ws.binaryType = "arraybuffer";
    state.ws = ws;
    let audioTurn = 0;
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        const ev = JSON.parse(e.data);
        if (ev.type === "session.created") state.outRate = ev.output_sample_rate;
        if (ev.type === "response.audio.delta") { audioTurn = ev.turn_id; mark(turn(ev.turn_id), "firstAudio"); return; }
        onEvent(ev);
      } else {
        window.assistantStats.audioFramesReceived++;
        state.playback.port.postMessage({ type: "audio", pcm: e.data, turn: audioTurn }, [e.data]);
      }
    };
    ws.onclose = (e) => {
      if (state.ws !== ws) return;
      stop();
      const why = {
        1000: "The assistant ended the conversation",
        1001: "The assistant server is shutting down",
        1008: "The assistant closed the connection",
        1009: "A message was too big for the assistant",
        1013: "The assistant is busy with other conversations; try again in a minute",
      }[e.code];
      showError(why ? `${why}${e.reason ? ` (${e.reason})` : ""}. Press Start talking to begin again.`
                    : "The connection to the assistant was lost. Is `assistant serve` still running?");
    };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => {
        showError("Cannot reach the assistant server. Start it with `make run` and reload this page.");
        reject(new Error("no connection"));
      };
    });
    $("stop").disabled = false;
  })();
  state.ready.catch(() => stop());
  return state.ready;
}

async function start() {
  showError("");
  $("start").disabled = true;
  setStatus("Asking for the microphone…");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  } catch (err) {
    $("start").disabled = false;
    setStatus(state.ws ? "Connected: type a message" : "Stopped", state.ws ? "ok" : "bad");
    showError(err && err.name === "NotAllowedError"
      ? "Microphone permission was refused. Allow the microphone for this page (the icon in the address bar) and press Start again."
      : `No microphone could be opened (${err && err.name ? err.name : err}). Plug one in, or check that no other program holds it.`);
    return;
  }
  await connect();
  const source = state.ctx.createMediaStreamSource(state.stream);
  state.capture = new AudioWorkletNode(state.ctx, "capture-processor");
  source.connect(state.capture);
  state.capture.port.onmessage = (e) => {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) { state.ws.send(e.data); window.assistantStats.framesSent++; }
  };
  setStatus("Listening: speak any time, and cut in whenever you like.", "ok");
}

// A typed message goes through the same understanding and reply as speech.
async function sendText(e) {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  showError("");
  await connect();
  state.ws.send(JSON.stringify({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  }));
  $("text").value = "";
}

function stop() {
  const ws = state.ws;
  state.ws = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  if (state.ctx) state.ctx.close();
  state.stream = state.ctx = state.ready = null;
  $("start").disabled = false;
  $("stop").disabled = true;
  setStatus("Stopped");
}

$("start").onclick = start;
$("typed").onsubmit = sendText;
$("stop").onclick = stop;
