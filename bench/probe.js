// The benchmark's probe in the guest page, added before the page's own scripts.
//
// It keeps every RTCPeerConnection the page opens, so that the benchmark
// can read their statistics, and, once started, reads the time stamp
// back from every frame the <video id=screen> element shows.
//
// For each shown frame it records the wall-clock time at which Chromium
// expects to display it, and the mean luma of each stamp cell. The
// benchmark decodes the cells in Python (bench/stamp.py).

(() => {
  const connections = [];
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      connections.push(this);
    }
  };

  const wallTime = (performanceTime) => performance.timeOrigin + performanceTime;

  async function inboundVideo() {
    const reports = [];
    for (const pc of connections) {
      if (pc.connectionState === "closed") continue;
      const stats = await pc.getStats();
      stats.forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "video") reports.push(report);
      });
    }
    return reports;
  }

  const state = { recording: false, frames: [], startedAt: 0, layout: null, canvas: null };

  function sampleLevels(video, layout) {
    const { width, height } = layout;
    const scaleX = video.videoWidth / layout.screenWidth;
    const scaleY = video.videoHeight / layout.screenHeight;
    const context = state.canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(
      video,
      layout.left * scaleX, layout.top * scaleY, width * scaleX, height * scaleY,
      0, 0, width, height,
    );
    const pixels = context.getImageData(0, 0, width, height).data;
    const levels = [];
    const cell = layout.cell;
    // Sample a 4 by 4 grid in the middle half of each cell, away from its edges.
    const offsets = [0.3, 0.43, 0.57, 0.7].map((fraction) => Math.floor(fraction * cell));
    for (let index = 0; index < layout.cells; index++) {
      const x0 = (index % layout.columns) * cell;
      const y0 = Math.floor(index / layout.columns) * cell;
      let sum = 0;
      for (const dy of offsets) {
        for (const dx of offsets) {
          const at = ((y0 + dy) * width + x0 + dx) * 4;
          sum += 0.299 * pixels[at] + 0.587 * pixels[at + 1] + 0.114 * pixels[at + 2];
        }
      }
      levels.push(Math.round(sum / (offsets.length * offsets.length)));
    }
    return levels;
  }

  function onFrame(now, metadata) {
    const video = document.getElementById("screen");
    if (!state.recording) return;
    state.frames.push({
      display: wallTime(metadata.expectedDisplayTime),
      callback: wallTime(now),
      dateNow: Date.now(),
      received: metadata.receiveTime === undefined ? null : wallTime(metadata.receiveTime),
      presented: metadata.presentedFrames,
      width: metadata.width,
      height: metadata.height,
      levels: sampleLevels(video, state.layout),
    });
    video.requestVideoFrameCallback(onFrame);
  }

  window.benchProbe = {
    /** Start recording frames; returns the inbound video statistics at the start. */
    async start(layout) {
      const video = document.getElementById("screen");
      state.layout = layout;
      state.canvas = document.createElement("canvas");
      state.canvas.width = layout.width;
      state.canvas.height = layout.height;
      state.frames = [];
      state.recording = true;
      state.startedAt = wallTime(performance.now());
      video.requestVideoFrameCallback(onFrame);
      return { at: state.startedAt, stats: await inboundVideo() };
    },

    /** Stop recording; returns the frames and the inbound video statistics at the end. */
    async finish() {
      state.recording = false;
      const at = wallTime(performance.now());
      return { at, startedAt: state.startedAt, frames: state.frames, stats: await inboundVideo() };
    },
  };
})();
