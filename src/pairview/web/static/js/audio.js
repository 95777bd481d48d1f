// Voices in the page: this guest's microphone (off until asked for, then
// muted or not), everyone else's voice played as it arrives, and a speaking
// indicator for each participant, drawn from the sound level of their track.

const LEVEL_INTERVAL_MS = 100;
// Root mean square level, of samples in -1..1, above which someone speaks.
const SPEAKING_LEVEL = 0.02;

/** Return the media ID of the offer's audio section that the host sends and receives on. */
export function sendrecvAudioMid(sdp) {
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    if (!section.startsWith("audio")) continue;
    const mid = /\r?\na=mid:(\S+)/.exec(section);
    if (mid && /\r?\na=sendrecv\b/.test(section)) return mid[1];
  }
  return null;
}

export class Voices {
  /**
   * @param {{list: HTMLElement, micButton: HTMLButtonElement, micStatus: HTMLElement, sounds: HTMLElement}} elements
   * @param {import("./guest.js").HostConnection} host
   */
  constructor(elements, host) {
    this.elements = elements;
    this.host = host;
    this.context = null;
    this.meters = new Map();
    this.voices = new Map();
    this.participants = [];
    this.selfId = null;
    this.microphone = null;
    this.muted = false;
    elements.micButton.addEventListener("click", () => this.toggle());
    setInterval(() => this.measure(), LEVEL_INTERVAL_MS);
  }

  audioContext() {
    if (this.context === null) this.context = new AudioContext();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  meter(key, stream) {
    const context = this.audioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    this.meters.set(key, { analyser, samples: new Float32Array(analyser.fftSize) });
  }

  /** Play a new audio track of the host's connection and measure its level. */
  addTrack(track, mid) {
    const stream = new MediaStream([track]);
    let audio = this.voices.get(mid);
    if (!audio) {
      audio = document.createElement("audio");
      audio.className = "voice";
      audio.autoplay = true;
      audio.dataset.mid = mid;
      this.elements.sounds.append(audio);
      this.voices.set(mid, audio);
    }
    audio.srcObject = stream;
    audio.play().catch(() => {});
    this.meter(`mid:${mid}`, stream);
    this.render();
  }

  setRoster(roster) {
    this.selfId = roster.you;
    this.participants = roster.participants;
    this.render();
  }

  render() {
    const list = this.elements.list;
    const items = this.participants.map((participant) => {
      const item = document.createElement("li");
      item.className = "participant";
      item.dataset.peerId = participant.id;
      item.dataset.role = participant.role;
      const dot = document.createElement("span");
      dot.className = "speaking-dot";
      dot.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "participant-name";
      const you = participant.id === this.selfId ? " (you)" : "";
      name.textContent = `${participant.name}${participant.role === "host" ? " (host)" : ""}${you}`;
      item.append(dot, name);
      return item;
    });
    list.replaceChildren(...items);
    for (const participant of this.participants) {
      const audio = participant.mid ? this.voices.get(participant.mid) : null;
      if (audio) audio.dataset.peerId = participant.id;
    }
  }

  async toggle() {
    const button = this.elements.micButton;
    if (this.microphone === null) {
      button.disabled = true;
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
        this.microphone = stream.getAudioTracks()[0];
        await this.host.setMicrophone(this.microphone);
        this.meter("self", stream);
        this.muted = false;
      } catch (error) {
        this.showStatus(`No microphone: ${error.message}`, "bad");
        button.disabled = false;
        return;
      }
      button.disabled = false;
    } else {
      this.muted = !this.muted;
      this.microphone.enabled = !this.muted;
    }
    this.showMicrophone();
  }

  showMicrophone() {
    const button = this.elements.micButton;
    button.dataset.state = this.muted ? "muted" : "on";
    button.textContent = this.muted ? "Unmute" : "Mute";
    this.showStatus(this.muted ? "Your microphone is muted." : "Others hear you.", this.muted ? "" : "ok");
  }

  showStatus(text, level) {
    this.elements.micStatus.textContent = text;
    this.elements.micStatus.dataset.level = level;
  }

  level(key) {
    const meter = this.meters.get(key);
    if (!meter) return 0;
    meter.analyser.getFloatTimeDomainData(meter.samples);
    let sum = 0;
    for (const sample of meter.samples) sum += sample * sample;
    return Math.sqrt(sum / meter.samples.length);
  }

  measure() {
    for (const item of this.elements.list.children) {
      const id = item.dataset.peerId;
      const participant = this.participants.find((p) => p.id === id);
      let level = 0;
      if (id === this.selfId) level = this.microphone && !this.muted ? this.level("self") : 0;
      else if (participant && participant.mid) level = this.level(`mid:${participant.mid}`);
      item.dataset.speaking = level > SPEAKING_LEVEL ? "yes" : "no";
    }
  }
}
