// The description of the browser that the guest page sends with its join, for
// usage statistics: the browser family and major version, and the operating
// system's name. No other detail of the user agent leaves the page.

const BRANDS = [
  ["Microsoft Edge", "edge"],
  ["Opera", "opera"],
  ["Google Chrome", "chrome"],
  ["Chromium", "chromium"],
  ["HeadlessChrome", "chromium"],
];

const AGENT_PATTERNS = [
  [/Edg\/(\d+)/, "edge"],
  [/OPR\/(\d+)/, "opera"],
  [/Firefox\/(\d+)/, "firefox"],
  [/Chromium\/(\d+)/, "chromium"],
  [/Chrome\/(\d+)/, "chrome"],
  [/Version\/(\d+)[.\d]* .*Safari\//, "safari"],
];

const PLATFORMS = [
  [/^(Windows|Win)/i, "windows"],
  [/Android/i, "android"],
  [/(iPhone|iPad|iOS)/i, "ios"],
  [/(CrOS|Chrome ?OS)/i, "chromeos"],
  [/(Mac|macOS)/i, "macos"],
  [/Linux/i, "linux"],
];

function browser() {
  const brands = navigator.userAgentData?.brands ?? [];
  for (const [brand, name] of BRANDS) {
    const found = brands.find((entry) => entry.brand === brand);
    if (found && /^\d{1,5}$/.test(found.version)) return { name, version: found.version };
  }
  for (const [pattern, name] of AGENT_PATTERNS) {
    const match = pattern.exec(navigator.userAgent);
    if (match) return { name, version: match[1].slice(0, 5) };
  }
  return { name: "other", version: null };
}

function operatingSystem() {
  const platform = navigator.userAgentData?.platform || navigator.userAgent;
  for (const [pattern, name] of PLATFORMS) {
    if (pattern.test(platform)) return name;
  }
  return "other";
}

/** Describe this browser as the `client` field of a join message. */
export function browserClient() {
  const { name, version } = browser();
  return { name, version, os: operatingSystem(), os_version: null };
}
