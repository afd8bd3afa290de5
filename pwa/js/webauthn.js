// Passkeys: WebAuthn JSON <-> browser objects. Uses PublicKeyCredential.parse*OptionsFromJSON and
// credential.toJSON() where the browser has them, with a small base64url fallback for older phones.

export function b64urlEncode(buf) {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64urlDecode(str) {
  const s = str.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(s + '='.repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

const withIds = (list) => (list || []).map((c) => ({ ...c, id: b64urlDecode(c.id) }));

export function parseCreationOptions(json, PKC = globalThis.PublicKeyCredential) {
  if (PKC && typeof PKC.parseCreationOptionsFromJSON === 'function') return PKC.parseCreationOptionsFromJSON(json);
  return { ...json, challenge: b64urlDecode(json.challenge), user: { ...json.user, id: b64urlDecode(json.user.id) }, excludeCredentials: withIds(json.excludeCredentials) };
}

export function parseRequestOptions(json, PKC = globalThis.PublicKeyCredential) {
  if (PKC && typeof PKC.parseRequestOptionsFromJSON === 'function') return PKC.parseRequestOptionsFromJSON(json);
  return { ...json, challenge: b64urlDecode(json.challenge), allowCredentials: withIds(json.allowCredentials) };
}

export function credentialToJSON(cred) {
  if (typeof cred.toJSON === 'function') return cred.toJSON();
  const r = cred.response;
  const response = { clientDataJSON: b64urlEncode(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64urlEncode(r.attestationObject);
    if (r.getTransports) response.transports = r.getTransports();
  } else {
    response.authenticatorData = b64urlEncode(r.authenticatorData);
    response.signature = b64urlEncode(r.signature);
    if (r.userHandle) response.userHandle = b64urlEncode(r.userHandle);
  }
  return {
    id: cred.id, rawId: b64urlEncode(cred.rawId), type: cred.type, response,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

/** The `publicKey` options object may come wrapped ({publicKey: {...}}) or bare; accept both. */
export function unwrapOptions(resp) {
  const o = resp.options || resp.publicKey || resp;
  return o.publicKey || o;
}
