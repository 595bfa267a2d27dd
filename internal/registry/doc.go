// Package registry is cutover's built-in OCI image registry: images the
// pipeline builds are pushed to it once and every Swarm node pulls them from
// it. It speaks the OCI distribution API (pull, push, chunked and
// monolithic uploads, cross-repository mounts, tag lists, the catalog,
// deletes).
//
// On disk, under Options.Dir:
//
//	blobs/sha256/<hex>  blobs, shared by all repositories
//	manifests/*.json    one file per (repository, tag or digest) pushed; a
//	                    manifest pushed by tag is stored under its digest too
//	uploads/<id>        uploads in progress, mode 0600 in a 0700 directory
//
// A manifest is on disk before its PUT is answered. New loads the
// manifests; an entry it cannot load as it was (a damaged file, a
// manifest that is not what its name says) is logged and listed by
// Problems, answers 404 with a message saying so, and is repaired by
// pushing it again. Nothing stored stops New. A manifest that lists
// manifests or blobs the registry lacks is reported and served as it is.
// A blob is checked against its digest the first time it is read (and
// when its file changes): a damaged blob answers 404, so that clients push
// it again.
//
// Deleting a manifest an index lists is allowed, as docker/distribution
// allows it (the distribution spec has no error for it); the index is
// then served without it. Deleting by digest removes the tags that point
// to it; deleting a tag keeps the manifest under its digest.
//
// Uploads stream to a file in uploads/ and are hashed as they arrive;
// nothing of an upload is held in memory. The sessions open at once and
// the bytes they hold together are bounded (Options.MaxUploads,
// Options.MaxUploadBytes), and Run, which the registry's owner starts,
// removes sessions idle for Options.UploadTTL. New removes uploads a
// previous process left.
//
// Every request needs a credential: Options.Authorize decides, told whether
// the request would change the registry (push, delete) or only read it
// (pull). A refused request gets 401 with a Basic challenge, which is what
// docker login and the Engine's pulls expect.
package registry
