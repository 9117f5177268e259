package ami

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// The EBS direct APIs (REST, JSON; signing name "ebs"), as aws-sdk-go-v2
// service/ebs v1.43.5 describes them (schemas/schemas.go): StartSnapshot
// POST /snapshots (201), PutSnapshotBlock PUT
// /snapshots/{SnapshotId}/blocks/{BlockIndex} (201) with x-amz-Data-Length,
// x-amz-Checksum and x-amz-Checksum-Algorithm, CompleteSnapshot POST
// /snapshots/completion/{SnapshotId} (202) with x-amz-ChangedBlocksCount
// and the aggregate checksum headers.

// ebsCall sends one EBS direct API request and decodes a JSON answer into
// out (nil: ignored). Errors carry the x-amzn-ErrorType code.
func (c *client) ebsCall(ctx context.Context, op string, want int, build func(ctx context.Context) (*http.Request, string, error), out any) error {
	return c.retry(ctx, func(ctx context.Context) error {
		req, hash, err := build(ctx)
		if err != nil {
			return err
		}
		resp, err := c.send(ctx, req, hash, "ebs")
		if err != nil {
			return err
		}
		msg, err := readAll(resp)
		if err != nil {
			return err
		}
		if resp.StatusCode != want {
			code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Errortype"), ":")
			var e struct {
				Message string
				Reason  string
			}
			_ = json.Unmarshal(msg, &e)
			text := e.Message
			if e.Reason != "" {
				text += " (" + e.Reason + ")"
			}
			if text == "" {
				text = strings.TrimSpace(string(msg))
			}
			return &apiError{Op: op, Status: resp.StatusCode, Code: code, Message: text}
		}
		if out != nil && len(msg) > 0 {
			return json.Unmarshal(msg, out)
		}
		return nil
	})
}

type ebsTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type startSnapshotIn struct {
	VolumeSize  int64    `json:"VolumeSize"`
	ClientToken string   `json:"ClientToken"`
	Encrypted   bool     `json:"Encrypted"`
	Description string   `json:"Description,omitempty"`
	Timeout     int      `json:"Timeout,omitempty"`
	Tags        []ebsTag `json:"Tags,omitempty"`
}

type startSnapshotOut struct {
	SnapshotID string `json:"SnapshotId"`
	Status     string `json:"Status"`
	BlockSize  int    `json:"BlockSize"`
}

// startSnapshot starts (or, for a token already used, returns) a snapshot.
func (c *client) startSnapshot(ctx context.Context, in startSnapshotIn) (startSnapshotOut, error) {
	body, err := json.Marshal(in) //nolint:gosec // ClientToken is an idempotency token made of public names, not a secret
	if err != nil {
		return startSnapshotOut{}, err
	}
	var out startSnapshotOut
	err = c.ebsCall(ctx, "StartSnapshot", http.StatusCreated, func(ctx context.Context) (*http.Request, string, error) {
		req, err := newRequest(ctx, http.MethodPost, c.ebsEndpoint()+"/snapshots", body)
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, sha256Hex(body), nil
	}, &out)
	return out, err
}

// putBlock writes one 512 KiB block with its SHA-256, which EBS checks
// against the data before it keeps it.
func (c *client) putBlock(ctx context.Context, snapshotID string, index int64, data []byte, sum [sha256.Size]byte, progress int) error {
	checksum := base64.StdEncoding.EncodeToString(sum[:])
	return c.ebsCall(ctx, "PutSnapshotBlock", http.StatusCreated, func(ctx context.Context) (*http.Request, string, error) {
		req, err := newRequest(ctx, http.MethodPut, c.ebsEndpoint()+"/snapshots/"+snapshotID+"/blocks/"+strconv.FormatInt(index, 10), data)
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("X-Amz-Data-Length", strconv.Itoa(len(data)))
		req.Header.Set("X-Amz-Checksum", checksum)
		req.Header.Set("X-Amz-Checksum-Algorithm", "SHA256")
		req.Header.Set("X-Amz-Progress", strconv.Itoa(progress))
		return req, unsignedPayload, nil
	}, nil)
}

// aggregateChecksum is the LINEAR aggregate of the blocks written: the
// SHA-256 of their SHA-256s concatenated in block-index order, base64
// (ChecksumAggregationMethod LINEAR; "Use checksums", EBS direct APIs).
func aggregateChecksum(sums map[int64][sha256.Size]byte) string {
	idx := make([]int64, 0, len(sums))
	for i := range sums {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	h := sha256.New()
	for _, i := range idx {
		s := sums[i]
		h.Write(s[:])
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// completeSnapshot seals the snapshot: EBS checks the count of blocks
// written and the aggregate checksum, then processes it.
func (c *client) completeSnapshot(ctx context.Context, snapshotID string, sums map[int64][sha256.Size]byte) (string, error) {
	var out struct {
		Status string `json:"Status"`
	}
	agg := aggregateChecksum(sums)
	err := c.ebsCall(ctx, "CompleteSnapshot", http.StatusAccepted, func(ctx context.Context) (*http.Request, string, error) {
		req, err := newRequest(ctx, http.MethodPost, c.ebsEndpoint()+"/snapshots/completion/"+snapshotID, nil)
		if err != nil {
			return nil, "", err
		}
		req.Header.Set("X-Amz-ChangedBlocksCount", strconv.Itoa(len(sums)))
		req.Header.Set("X-Amz-Checksum", agg)
		req.Header.Set("X-Amz-Checksum-Algorithm", "SHA256")
		req.Header.Set("X-Amz-Checksum-Aggregation-Method", "LINEAR")
		return req, sha256Hex(nil), nil
	}, &out)
	return out.Status, err
}
