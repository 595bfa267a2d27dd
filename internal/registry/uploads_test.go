package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// pushRequest sends an authorised request for the pusher and returns the
// response, its body read and closed.
func pushRequest(t *testing.T, method, url string, body io.Reader, size int64, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.SetBasicAuth("pusher", "push-secret")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// randomBlob is n pseudo-random bytes, made as they are read.
func randomBlob(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{byte(seed)}), n)
}

// digestOfBlob hashes randomBlob(seed, n).
func digestOfBlob(seed uint64, n int64) string {
	h := sha256.New()
	io.Copy(h, randomBlob(seed, n))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// The sizes of TestUploadsStreamToDisk: the heap may grow by margin, not
// by the blob's size.
const (
	blobSize  = 64 << 20
	chunkSize = 4 << 20
	margin    = 16 << 20
)

// uploadWay is a way a client sends a blob after its POST: patch sends
// the PATCHes and returns where to PUT; body says whether the PUT sends
// the blob instead.
type uploadWay struct {
	name  string
	patch func(t *testing.T, base, location string) string
	body  bool
}

func uploadWays(dir string) []uploadWay {
	return []uploadWay{
		{"chunked PATCH", func(t *testing.T, base, loc string) string {
			blob := randomBlob(1, blobSize)
			for off := int64(0); off < blobSize; off += chunkSize {
				resp := pushRequest(t, http.MethodPatch, loc, io.LimitReader(blob, chunkSize), chunkSize,
					"Content-Range", fmt.Sprintf("%d-%d", off, off+chunkSize-1))
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("PATCH at %d: %s", off, resp.Status)
				}
				loc = base + resp.Header.Get("Location")
			}
			checkUploadFile(t, dir, blobSize)
			return loc
		}, false},
		{"streamed PATCH", func(t *testing.T, base, loc string) string {
			resp := pushRequest(t, http.MethodPatch, loc, randomBlob(1, blobSize), -1)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("PATCH: %s", resp.Status)
			}
			checkUploadFile(t, dir, blobSize)
			return base + resp.Header.Get("Location")
		}, false},
		{"monolithic PUT", func(_ *testing.T, _, loc string) string { return loc }, true},
	}
}

// Uploads go to a file as they arrive: pushing 64 MiB raises the heap by
// far less than that, while the upload is open and once it is done, in
// each way a client may upload.
func TestUploadsStreamToDisk(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(must(New(Options{Dir: dir, Authorize: authorize})))
	defer srv.Close()
	d := digestOfBlob(1, blobSize)
	for _, tt := range uploadWays(dir) {
		t.Run(tt.name, func(t *testing.T) {
			before := heapInuse()
			start := pushRequest(t, http.MethodPost, srv.URL+"/v2/big/blobs/uploads/", nil, 0)
			if start.StatusCode != http.StatusAccepted {
				t.Fatalf("POST: %s", start.Status)
			}
			loc := tt.patch(t, srv.URL, srv.URL+start.Header.Get("Location"))
			checkHeap(t, "while the upload is open", before)
			var body io.Reader
			var n int64
			if tt.body {
				body, n = randomBlob(1, blobSize), blobSize
			}
			if resp := pushRequest(t, http.MethodPut, loc+"?digest="+d, body, n); resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT: %s", resp.Status)
			}
			checkHeap(t, "once the upload is done", before)
			checkBlob(t, srv.URL, d, blobSize)
		})
	}
	t.Run("POST with digest", func(t *testing.T) {
		before := heapInuse()
		d := digestOfBlob(2, blobSize)
		resp := pushRequest(t, http.MethodPost, srv.URL+"/v2/big/blobs/uploads/?digest="+d, randomBlob(2, blobSize), blobSize)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %s", resp.Status)
		}
		checkHeap(t, "once the upload is done", before)
		checkBlob(t, srv.URL, d, blobSize)
	})
}

// checkHeap fails t if the heap in use grew by more than margin since
// before.
func checkHeap(t *testing.T, when string, before uint64) {
	t.Helper()
	if grew := int64(heapInuse()) - int64(before); grew > margin {
		t.Errorf("%s, the heap in use grew by %d MiB; want at most %d MiB", when, grew>>20, margin>>20)
	}
}

func must(r *Registry, err error) *Registry {
	if err != nil {
		panic(err)
	}
	return r
}

// checkUploadFile checks that the one upload in progress is a file of
// size bytes, the owner's only, in a directory that is the owner's only.
func checkUploadFile(t *testing.T, dir string, size int64) {
	t.Helper()
	up := filepath.Join(dir, "uploads")
	fi, err := os.Stat(up)
	if err != nil {
		t.Fatalf("upload directory: %v", err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("upload directory has mode %v; want 0700", fi.Mode().Perm())
	}
	files, _ := os.ReadDir(up)
	if len(files) != 1 {
		t.Fatalf("upload directory holds %d files; want 1", len(files))
	}
	fi, _ = files[0].Info()
	if fi.Size() != size || fi.Mode().Perm() != 0o600 {
		t.Errorf("upload file: %d bytes, mode %v; want %d bytes, mode 0600", fi.Size(), fi.Mode().Perm(), size)
	}
}

// checkBlob checks that blob d of size bytes is served.
func checkBlob(t *testing.T, base, d string, size int64) {
	t.Helper()
	resp := pushRequest(t, http.MethodHead, base+"/v2/big/blobs/"+d, nil, 0)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != size {
		t.Errorf("HEAD blob: %s, %d bytes; want 200, %d bytes", resp.Status, resp.ContentLength, size)
	}
}

// serveTo sends a request straight to h, for tests in a synctest bubble.
func serveTo(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth("pusher", "push-secret")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// An upload without a request for longer than UploadTTL is removed by
// Run, file and all; one that keeps going is not.
func TestAbandonedUploadsExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		r, err := New(Options{Dir: dir, Authorize: authorize, UploadTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go r.Run(ctx)
		start := func() string {
			rec := serveTo(r, http.MethodPost, "/v2/hello/blobs/uploads/", "")
			if rec.Code != http.StatusAccepted {
				t.Fatalf("POST: %d %s", rec.Code, rec.Body)
			}
			return rec.Header().Get("Location")
		}
		patch := func(loc string) int { return serveTo(r, http.MethodPatch, loc, "some bytes").Code }
		abandoned, active := start(), start()
		patch(abandoned)

		for i := range 4 { // the active upload is written to every 50 minutes
			time.Sleep(50 * time.Minute)
			if code := patch(active); code != http.StatusAccepted {
				t.Fatalf("PATCH of the active upload after %d min: %d; want 202", (i+1)*50, code)
			}
		}
		if code := patch(abandoned); code != http.StatusNotFound {
			t.Errorf("PATCH of the abandoned upload after 200 min: %d; want 404", code)
		}
		if files, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(files) != 1 {
			t.Errorf("upload directory holds %d files; want 1 (the active upload's)", len(files))
		}
		cancel()
		synctest.Wait()
	})
}

// The open uploads are bounded in number and in bytes held.
func TestUploadLimits(t *testing.T) {
	r, err := New(Options{Dir: t.TempDir(), Authorize: authorize, MaxUploads: 2, MaxUploadBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	first := serveTo(r, http.MethodPost, "/v2/hello/blobs/uploads/", "").Header().Get("Location")
	serveTo(r, http.MethodPost, "/v2/hello/blobs/uploads/", "")
	if rec := serveTo(r, http.MethodPost, "/v2/hello/blobs/uploads/", ""); rec.Code != http.StatusTooManyRequests {
		t.Errorf("a third upload: %d; want 429", rec.Code)
	}
	big := strings.Repeat("x", 1<<20+1)
	if rec := serveTo(r, http.MethodPatch, first, big); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("PATCH beyond MaxUploadBytes: %d; want 413", rec.Code)
	}
	if rec := serveTo(r, http.MethodDelete, first, ""); rec.Code != http.StatusNoContent {
		t.Errorf("DELETE of the upload: %d; want 204", rec.Code)
	}
	// The cancelled upload's bytes and session are free again.
	next := serveTo(r, http.MethodPost, "/v2/hello/blobs/uploads/", "")
	if next.Code != http.StatusAccepted {
		t.Fatalf("an upload after one was cancelled: %d; want 202", next.Code)
	}
	if rec := serveTo(r, http.MethodPatch, next.Header().Get("Location"), big[:1<<20]); rec.Code != http.StatusAccepted {
		t.Errorf("PATCH of MaxUploadBytes: %d; want 202", rec.Code)
	}
}

// Requests that do not continue an upload as it is are refused, with the
// distribution spec's errors.
func TestUploadErrors(t *testing.T) {
	r, err := New(Options{Dir: t.TempDir(), Authorize: authorize})
	if err != nil {
		t.Fatal(err)
	}
	start := func() string {
		return serveTo(r, http.MethodPost, "/v2/hello/blobs/uploads/", "").Header().Get("Location")
	}
	wrongDigest := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name   string
		do     func(loc string) *httptest.ResponseRecorder
		status int
		code   string
		after  int // the status of a PATCH to the session afterwards
	}{
		{"a chunk that does not continue the upload", func(loc string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPatch, loc, strings.NewReader("abc"))
			req.Header.Set("Content-Range", "5-7")
			req.SetBasicAuth("pusher", "push-secret")
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			return rec
		}, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", http.StatusAccepted},
		{"a PUT with the wrong digest", func(loc string) *httptest.ResponseRecorder {
			return serveTo(r, http.MethodPut, loc+"?digest="+wrongDigest, "abc")
		}, http.StatusBadRequest, "DIGEST_INVALID", http.StatusNotFound},
		{"a PUT without a digest", func(loc string) *httptest.ResponseRecorder {
			return serveTo(r, http.MethodPut, loc, "abc")
		}, http.StatusBadRequest, "DIGEST_INVALID", http.StatusAccepted},
		{"a session of another repository", func(loc string) *httptest.ResponseRecorder {
			return serveTo(r, http.MethodPatch, strings.Replace(loc, "/hello/", "/other/", 1), "abc")
		}, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := start()
			rec := tt.do(loc)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), `"code":"`+tt.code+`"`) {
				t.Errorf("got %d %s; want %d %s", rec.Code, rec.Body, tt.status, tt.code)
			}
			if got := serveTo(r, http.MethodPatch, loc, "more").Code; got != tt.after {
				t.Errorf("PATCH afterwards: %d; want %d", got, tt.after)
			}
		})
	}
}

// Uploads a previous process left unfinished are removed by New.
func TestNewRemovesUnfinishedUploads(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "uploads"), 0o700); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "uploads", "0123456789abcdef0123456789abcdef")
	if err := os.WriteFile(left, []byte("half a layer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Dir: dir, Authorize: authorize}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the unfinished upload is still there: %v", err)
	}
}

// A request that stops sending its body fails after a while, and its
// session can go on (or expire) instead of staying busy for good.
func TestSilentUploadRequestFails(t *testing.T) {
	r, err := New(Options{Dir: t.TempDir(), Authorize: authorize})
	if err != nil {
		t.Fatal(err)
	}
	r.uploads.readIdle = 100 * time.Millisecond
	srv := httptest.NewServer(r)
	defer srv.Close()
	loc := srv.URL + serveTo(r, http.MethodPost, "/v2/hello/blobs/uploads/", "").Header().Get("Location")

	stalled, w := io.Pipe()
	defer w.Close()
	go w.Write([]byte("the start of a layer, then nothing"))
	if resp := pushRequest(t, http.MethodPatch, loc, stalled, -1); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the silent PATCH: %s; want 400", resp.Status)
	}
	if resp := pushRequest(t, http.MethodPatch, loc, strings.NewReader("more"), 4); resp.StatusCode != http.StatusAccepted {
		t.Errorf("a PATCH after the silent one: %s; want 202", resp.Status)
	}
}
