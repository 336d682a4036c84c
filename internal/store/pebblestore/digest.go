package pebblestore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Digest returns a SHA-256 over every key and value in the store, in key
// order, read from one snapshot: equal digests mean byte-identical
// contents. Tests use it to show that a refused write changed nothing; it
// also compares a copy of the data volume with its original.
func (s *Store) Digest(ctx context.Context) (string, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	h := sha256.New()
	var n [8]byte
	err = scan(ctx, snap, nil, nil, false, func(k, v []byte) error {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		for _, b := range [][]byte{k, v} {
			binary.BigEndian.PutUint64(n[:], uint64(len(b)))
			h.Write(n[:])
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
