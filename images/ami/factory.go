package ami

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/talos-aws/talos-aws/images"
)

// factory talks to an Image Factory.
type factory struct {
	url  string
	http *http.Client
	c    *client // for its retry policy
}

// postSchematic creates the schematic (idempotent: the factory keeps the
// first copy of an ID and answers with the ID, Factory.Put,
// internal/schematic/schematic.go:61-88@v0.9.0) and checks that the
// factory's ID is the one computed here: a difference would mean the AMI
// name promised at preview is not the image built.
func (f *factory) postSchematic(ctx context.Context, s images.Schematic) error {
	want, body := s.ID(), s.YAML()
	return f.c.retry(ctx, func(ctx context.Context) error {
		req, err := newRequest(ctx, http.MethodPost, f.url+"/schematics", body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/yaml")
		resp, err := f.http.Do(req)
		if err != nil {
			return err
		}
		msg, err := readAll(resp)
		if err != nil {
			return err
		}
		// 201 Created (handleSchematicCreate, internal/frontend/http/
		// configuration.go:41-50@v0.9.0), also for an existing schematic.
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return &apiError{Op: "POST " + f.url + "/schematics", Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
		}
		var out struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(msg, &out); err != nil {
			return fmt.Errorf("POST %s/schematics: answer %q: %w", f.url, msg, err)
		}
		if out.ID != want {
			return fmt.Errorf("the Image Factory at %s gives schematic %s the ID %s, this stack computed %s: its canonical form changed; pin a talos-aws release that matches it", f.url, body, out.ID, want)
		}
		return nil
	})
}

// downloaded is the compressed disk image on disk.
type downloaded struct {
	path   string
	size   int64
	digest string // hex SHA-256 of the compressed bytes
}

// download fetches the schematic's AWS disk image into dir, whole, then
// checks its length. The first request for an image makes the factory
// build it, which takes minutes: the answer comes when it is built.
// onBytes reports progress (bytes so far, total or -1).
func (f *factory) download(ctx context.Context, dir, path string, onBytes func(done, total int64)) (downloaded, error) {
	var d downloaded
	err := f.c.retry(ctx, func(ctx context.Context) error {
		file, err := os.CreateTemp(dir, "talos-aws-image-*.raw.zst")
		if err != nil {
			return err
		}
		keep := false
		defer func() {
			_ = file.Close()
			if !keep {
				_ = os.Remove(file.Name())
			}
		}()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+path, nil)
		if err != nil {
			return err
		}
		resp, err := f.http.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			return &apiError{Op: "GET " + f.url + path, Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(file, h), &countingReader{r: resp.Body, total: resp.ContentLength, on: onBytes})
		if err != nil {
			return fmt.Errorf("GET %s%s: %w", f.url, path, errTransientWrap(err))
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("GET %s%s: %d of %d bytes: %w", f.url, path, n, resp.ContentLength, errTransient)
		}
		if err := file.Sync(); err != nil {
			return err
		}
		keep = true
		d = downloaded{path: file.Name(), size: n, digest: hexSum(h)}
		return nil
	})
	return d, err
}

// errTransientWrap marks a broken transfer as worth a retry.
func errTransientWrap(err error) error { return fmt.Errorf("%w: %w", errTransient, err) }

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// countingReader reports how much has been read.
type countingReader struct {
	r     io.Reader
	n     int64
	total int64
	on    func(done, total int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.on != nil && n > 0 {
		c.on(c.n, c.total)
	}
	return n, err
}
