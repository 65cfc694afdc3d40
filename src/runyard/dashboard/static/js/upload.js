// Browser uploads straight to the object store: one presigned PUT (with upload progress from
// XMLHttpRequest), or, when the server answers 413 for a single upload, the multipart flow
// (session only), resumable: the upload id is kept in sessionStorage (not a secret) so a retry
// after a drop or a reload asks the server which parts it has and sends only the rest.

const PARTS_PER_PRESIGN = 8;
const FORBIDDEN = new Set(["content-length", "host"]); // set by the browser itself

export function putWithProgress(url, headers, body, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers || {})) {
      if (!FORBIDDEN.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(body.size);
        resolve(xhr.getResponseHeader("ETag"));
      } else {
        const error = new Error(`The store refused the upload (${xhr.status}).`);
        error.status = xhr.status;
        reject(error);
      }
    };
    xhr.onerror = () => reject(new Error("The upload was interrupted (network error)."));
    xhr.onabort = () => reject(new Error("The upload was cancelled."));
    if (signal) signal.addEventListener("abort", () => xhr.abort());
    xhr.send(body);
  });
}

// Returns the file_key to pass as the file parameter. onProgress(sentBytes, totalBytes).
export async function uploadFile(api, file, onProgress, signal) {
  const description = {
    file_name: file.name,
    file_size: file.size,
    content_type: file.type || "application/octet-stream",
  };
  let presign;
  try {
    presign = await api.post("/r/files/presign", description);
  } catch (error) {
    if (error.status === 413) return uploadMultipart(api, file, description, onProgress, signal);
    throw error;
  }
  onProgress(0, file.size);
  await putWithProgress(
    presign.upload_url,
    presign.upload_headers,
    file,
    (sent) => onProgress(sent, file.size),
    signal,
  );
  return presign.file_key;
}

function resumeKey(file, base) {
  return `runyard.upload:${base}:${file.name}:${file.size}:${file.lastModified}`;
}

async function openUpload(api, file, description, base) {
  const key = resumeKey(file, base);
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(key) || "null");
  } catch {
    saved = null;
  }
  if (saved) {
    try {
      const state = await api.get(`${base}/${encodeURIComponent(saved.upload_id)}`);
      if (state.upload_status === "open") return state;
    } catch {
      // gone or expired: start again below
    }
  }
  const created = await api.post(`${base}/initiate`, description);
  sessionStorage.setItem(
    key,
    JSON.stringify({ upload_id: created.upload_id, file_key: created.file_key }),
  );
  return { ...created, parts_received: [] };
}

// base: "/uploads/multipart" (task inputs) or "/models/multipart" (the model library).
export async function uploadMultipart(
  api, file, description, onProgress, signal, base = "/uploads/multipart",
) {
  const state = await openUpload(api, file, description, base);
  const etags = new Map();
  let sent = 0;
  for (const part of state.parts_received || []) {
    etags.set(part.part_number, part.etag);
    sent += part.size;
  }
  onProgress(sent, file.size);
  const todo = [];
  for (let n = 1; n <= state.part_count; n += 1) if (!etags.has(n)) todo.push(n);
  for (let i = 0; i < todo.length; i += PARTS_PER_PRESIGN) {
    const batch = todo.slice(i, i + PARTS_PER_PRESIGN);
    const signed = await api.post(`${base}/presign-parts`, {
      upload_id: state.upload_id,
      file_key: state.file_key,
      part_numbers: batch,
    });
    for (const part of signed.parts) {
      const start = (part.part_number - 1) * state.part_size;
      const blob = file.slice(start, Math.min(start + state.part_size, file.size));
      const etag = await putWithProgress(
        part.upload_url,
        part.upload_headers,
        blob,
        (partSent) => onProgress(sent + partSent, file.size),
        signal,
      );
      etags.set(part.part_number, etag);
      sent += blob.size;
    }
  }
  const parts = [...etags.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([part_number, etag]) => ({ part_number, etag }));
  const done = await api.post(`${base}/complete`, {
    upload_id: state.upload_id,
    file_key: state.file_key,
    parts,
  });
  sessionStorage.removeItem(resumeKey(file, base));
  onProgress(file.size, file.size);
  return done.file_key;
}
