package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// TestVendoredAssets fails when the embedded browser libraries are stale:
// not the version package-lock.json pins, not the bytes `make web/vendor`
// recorded in vendor.sum, or (when npm ci has run, as make test does)
// not the same as node_modules' dist files.
func TestVendoredAssets(t *testing.T) {
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	b, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	version := lock.Packages["node_modules/uplot"].Version
	if version == "" {
		t.Fatal("package-lock.json pins no uplot")
	}
	js, err := content.ReadFile("static/vendor/uPlot.iife.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if banner := "/*! https://github.com/leeoniya/uPlot (v" + version + ") */"; !bytes.HasPrefix(js, []byte(banner)) {
		t.Fatalf("embedded uPlot is not v%s, the version package-lock.json pins; run make web/vendor", version)
	}

	sums, err := os.Open("vendor.sum")
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	n := 0
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("vendor.sum: bad line %q", sc.Text())
		}
		n++
		embedded, err := content.ReadFile("static/vendor/" + name)
		if err != nil {
			t.Fatalf("vendor.sum lists %s, which is not embedded", name)
		}
		got := sha256.Sum256(embedded)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("embedded %s does not match vendor.sum; run make web/vendor", name)
		}
		dist, err := os.ReadFile(filepath.Join("node_modules", "uplot", "dist", name))
		switch {
		case err == nil && !bytes.Equal(dist, embedded):
			t.Errorf("embedded %s differs from node_modules'; run make web/vendor", name)
		case err != nil && os.Getenv("HOOKLINE_REQUIRE_VENDOR") == "1":
			t.Errorf("HOOKLINE_REQUIRE_VENDOR=1 but node_modules has no %s: %v (run npm ci in web/)", name, err)
		}
	}
	entries, _ := content.ReadDir("static/vendor")
	if n == 0 || n != len(entries) {
		t.Fatalf("vendor.sum lists %d files, static/vendor holds %d", n, len(entries))
	}
}

// TestSeriesMemory pins the memory of the overview's time series.
func TestSeriesMemory(t *testing.T) {
	size := unsafe.Sizeof(Sample{}) * SeriesLength
	if unsafe.Sizeof(Sample{}) != 96 || size != 86_400 {
		t.Fatalf("a sample is %d bytes, the series %d; update the doc comment of Sample and the README", unsafe.Sizeof(Sample{}), size)
	}
	s := NewSeries(3)
	for i := range 5 {
		s.Add(Sample{Unix: int64(i)})
	}
	got := s.Samples()
	if len(got) != 3 || got[0].Unix != 2 || got[2].Unix != 4 {
		t.Fatalf("samples %+v, want the last 3 oldest first", got)
	}
	if last, ok := s.Last(); !ok || last.Unix != 4 {
		t.Fatalf("last %+v", last)
	}
}

func TestAssetsServedVersioned(t *testing.T) {
	for _, name := range []string{"app.js", "app.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} {
		if u := assetURL(name); !strings.HasPrefix(u, "/static/"+name+"?v=") || len(u) != len("/static/"+name+"?v=")+12 {
			t.Errorf("asset URL %q", u)
		}
	}
}
