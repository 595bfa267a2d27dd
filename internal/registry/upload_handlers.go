package registry

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// body is req's body, failing after u.readIdle without data, so
// that a client gone silent does not hold its session (which only expires
// once no request is writing it) for good.
func (u *uploads) body(w http.ResponseWriter, req *http.Request) io.Reader {
	return idleReader{r: req.Body, rc: http.NewResponseController(w), idle: u.readIdle}
}

type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	r.rc.SetReadDeadline(time.Now().Add(r.idle)) // test recorders do not support it: no deadline then
	return r.r.Read(p)
}

// startUpload opens an upload session; with ?digest= the body is the
// whole blob, and with ?mount= a blob the registry holds is reused.
func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, rt route) {
	q := req.URL.Query()
	if d := q.Get("mount"); r.blobs.exists(d) { // blobs are shared by all repositories
		w.Header().Set("Location", "/v2/"+rt.repo+"/blobs/"+d)
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(http.StatusCreated)
		return
	}
	s, err := r.uploads.start(rt.repo)
	if err != nil {
		writeError(w, err)
		return
	}
	if d := q.Get("digest"); d != "" {
		r.completeUpload(w, req, s, d)
		return
	}
	uploadHeaders(w, s) // before release: s is another request's after it
	r.uploads.release(s)
	w.WriteHeader(http.StatusAccepted)
}

// patchUpload appends a chunk (with Content-Range) or a stream (without)
// to a session.
func (r *Registry) patchUpload(w http.ResponseWriter, req *http.Request, rt route) {
	s, err := r.uploads.claim(rt.repo, rt.ref)
	if err != nil {
		writeError(w, err)
		return
	}
	defer r.uploads.release(s)
	if cr := req.Header.Get("Content-Range"); cr != "" {
		var start, end int64
		if _, err := fmt.Sscanf(cr, "%d-%d", &start, &end); err != nil || start != s.size {
			uploadHeaders(w, s)
			writeError(w, errorf(http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID",
				"Content-Range %q does not continue the upload, which holds %d bytes", cr, s.size))
			return
		}
	}
	if err := r.uploads.write(s, r.uploads.body(w, req)); err != nil {
		writeError(w, uploadError(err))
		return
	}
	uploadHeaders(w, s)
	w.WriteHeader(http.StatusAccepted)
}

// putUpload appends the body, if any, and finishes the session as the
// blob ?digest= names.
func (r *Registry) putUpload(w http.ResponseWriter, req *http.Request, rt route) {
	s, err := r.uploads.claim(rt.repo, rt.ref)
	if err != nil {
		writeError(w, err)
		return
	}
	r.completeUpload(w, req, s, req.URL.Query().Get("digest"))
}

// completeUpload writes the body to claimed session s and, if what s
// holds has digest d, stores it as blob d.
func (r *Registry) completeUpload(w http.ResponseWriter, req *http.Request, s *upload, d string) {
	if !isDigest(d) {
		r.uploads.release(s)
		writeError(w, errorf(http.StatusBadRequest, "DIGEST_INVALID", "invalid or unsupported digest %q", d))
		return
	}
	if err := r.uploads.write(s, r.uploads.body(w, req)); err != nil {
		r.uploads.release(s)
		writeError(w, uploadError(err))
		return
	}
	defer r.uploads.finish(s)
	if got := s.digest(); got != d {
		writeError(w, errorf(http.StatusBadRequest, "DIGEST_INVALID", "the upload's content (%d bytes) has digest %s, not %s", s.size, got, d))
		return
	}
	err := s.sync()
	if err == nil {
		err = r.blobs.commit(s.path, d)
	}
	if err != nil {
		r.log.Error("registry: storing an uploaded blob", "digest", d, "err", err)
		writeError(w, errorf(http.StatusInternalServerError, "UNKNOWN", "%v", err))
		return
	}
	w.Header().Set("Location", "/v2/"+s.repo+"/blobs/"+d)
	w.Header().Set("Docker-Content-Digest", d)
	w.WriteHeader(http.StatusCreated)
}

func (r *Registry) uploadStatus(w http.ResponseWriter, _ *http.Request, rt route) {
	s, err := r.uploads.claim(rt.repo, rt.ref)
	if err != nil {
		writeError(w, err)
		return
	}
	defer r.uploads.unclaim(s)
	uploadHeaders(w, s)
	w.WriteHeader(http.StatusNoContent)
}

func (r *Registry) cancelUpload(w http.ResponseWriter, _ *http.Request, rt route) {
	s, err := r.uploads.claim(rt.repo, rt.ref)
	if err != nil {
		writeError(w, err)
		return
	}
	r.uploads.finish(s)
	w.WriteHeader(http.StatusNoContent)
}
