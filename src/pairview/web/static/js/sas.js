// The short authentication string of the connection to the host, computed
// as pairview/protocol/sas.py does: six digits from the host's and this
// page's DTLS certificate fingerprints, the host's first.

const SAS_LABEL = "pairview-sas:1:";

/** Return the first SHA-256 certificate fingerprint in an SDP, in upper case, or null. */
export function sha256Fingerprint(sdp) {
  const match = /^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$/m.exec(sdp);
  return match ? match[1].toUpperCase() : null;
}

/**
 * Return six digits, as "123 456", from the two fingerprints; null where the
 * page is not a secure context and the Web Crypto digest is missing.
 */
export async function shortAuthenticationString(hostFingerprint, guestFingerprint) {
  if (!globalThis.crypto || !crypto.subtle) return null;
  const text = `${SAS_LABEL}${hostFingerprint.toUpperCase()}:${guestFingerprint.toUpperCase()}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  const number = new DataView(digest.buffer).getUint32(0) % 1000000;
  const digits = String(number).padStart(6, "0");
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}
