package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// content holds the templates and the static assets, embedded in the
// binary: the dashboard needs nothing at run time but the binary.
//
// static/vendor/ holds the dist files of the browser libraries pinned in
// package-lock.json, copied there by `make web/vendor`; TestVendoredAssets
// fails when they differ from what the lockfile pins.
//
//go:embed templates static
var content embed.FS

// assetHashes maps each static path ("app.js") to the first 12 hex digits
// of its SHA-256, for cache-busting URLs.
var assetHashes = func() map[string]string {
	m := make(map[string]string)
	_ = fs.WalkDir(content, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := content.ReadFile(p)
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return m
}()

// assetURL returns the URL of a static asset, versioned by its content so it
// can be cached for good.
func assetURL(name string) string {
	return "/static/" + name + "?v=" + assetHashes[name]
}

// handleStatic serves GET /static/…: the embedded assets, cached for a year
// when asked for by their versioned URL.
func handleStatic() http.Handler {
	sub, _ := fs.Sub(content, "static")
	files := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean(r.URL.Path)
		if _, ok := assetHashes[name]; !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == assetHashes[name] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	}))
}
