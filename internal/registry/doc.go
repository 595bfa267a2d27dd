// Package registry is cutover's built-in OCI image registry: images the
// pipeline builds are pushed to it once and every Swarm node pulls them from
// it.
//
// It wraps go-containerregistry's registry handler, which speaks the OCI
// distribution API and keeps blobs on disk (Options.Dir/blobs) but
// manifests in memory only. This package persists manifests itself: each
// successful manifest PUT is written to Options.Dir/manifests before the
// client is answered, each successful DELETE removes its file, and New
// replays the stored manifests through the handler, so a restart keeps
// every tag and digest.
//
// Every request needs a credential: Options.Authorize decides, told whether
// the request would change the registry (push, delete) or only read it
// (pull). A refused request gets 401 with a Basic challenge, which is what
// docker login and the Engine's pulls expect.
package registry
