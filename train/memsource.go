package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
)

// MemorySource serves batches from samples held in memory (cached latents and
// embeddings of a LoRA dataset fit easily): every epoch it shuffles the
// samples within each size bucket, cuts them into batches of BatchSize, and
// shuffles the batch order. The order of epoch e depends only on (Seed, e),
// so the position (epoch, batch) is all a checkpoint needs.
type MemorySource struct {
	samples   []Sample
	batchSize int
	seed      uint64
	epoch     int
	batches   [][]int // the current epoch's batches (sample indices)
	pos       int
}

// NewMemorySource serves samples in batches of batchSize (a bucket with fewer
// samples gives smaller batches).
func NewMemorySource(samples []Sample, batchSize int, seed uint64) (*MemorySource, error) {
	if len(samples) == 0 {
		return nil, errors.New("no training samples")
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("batch size must be >= 1, got %d", batchSize)
	}
	s := &MemorySource{samples: samples, batchSize: batchSize, seed: seed}
	s.plan()
	return s, nil
}

// bucketKey groups samples that can share a batch.
func bucketKey(s Sample) string { return fmt.Sprintf("%dx%dx%d/%dx%d", s.C, s.H, s.W, s.L, s.D) }

// plan builds the batches of the current epoch.
func (s *MemorySource) plan() {
	rng := rand.New(rand.NewPCG(s.seed, uint64(s.epoch)+1))
	buckets := map[string][]int{}
	for i, smp := range s.samples {
		k := bucketKey(smp)
		buckets[k] = append(buckets[k], i)
	}
	keys := make([]string, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s.batches = s.batches[:0]
	for _, k := range keys {
		idx := buckets[k]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for lo := 0; lo < len(idx); lo += s.batchSize {
			s.batches = append(s.batches, idx[lo:min(lo+s.batchSize, len(idx))])
		}
	}
	rng.Shuffle(len(s.batches), func(i, j int) { s.batches[i], s.batches[j] = s.batches[j], s.batches[i] })
	s.pos = 0
}

// Next returns the next batch, starting a new epoch when needed.
func (s *MemorySource) Next() ([]Sample, error) {
	if s.pos >= len(s.batches) {
		s.epoch++
		s.plan()
	}
	b := s.batches[s.pos]
	s.pos++
	out := make([]Sample, len(b))
	for i, j := range b {
		out[i] = s.samples[j]
	}
	return out, nil
}

// Epoch returns the current epoch (0-based).
func (s *MemorySource) Epoch() int { return s.epoch }

type memState struct {
	Epoch int `json:"epoch"`
	Pos   int `json:"pos"`
}

// State records the position.
func (s *MemorySource) State() ([]byte, error) {
	return json.Marshal(memState{Epoch: s.epoch, Pos: s.pos})
}

// Restore returns to a recorded position.
func (s *MemorySource) Restore(state []byte) error {
	var st memState
	if err := json.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("data position: %w", err)
	}
	s.epoch = st.Epoch
	s.plan()
	if st.Pos < 0 || st.Pos > len(s.batches) {
		return fmt.Errorf("data position %d is outside epoch %d's %d batches (dataset changed?)", st.Pos, st.Epoch, len(s.batches))
	}
	s.pos = st.Pos
	return nil
}
