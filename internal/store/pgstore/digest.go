package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// digestQueries read every row of the store in a fixed order, each row as
// its text representation.
var digestQueries = []string{
	`SELECT uid || ' ' || ROW(s.*)::text FROM mcp_sessions s ORDER BY uid`,
	`SELECT uid || ' ' || ROW(c.*)::text FROM mcp_context c ORDER BY uid, key`,
	`SELECT uid || ' ' || ROW(m.*)::text FROM mcp_messages m ORDER BY uid, seq`,
	`SELECT uid || ' ' || ROW(d.*)::text FROM mcp_discoveries d ORDER BY uid, seq`,
}

// Digest returns a SHA-256 over every row of the store's tables, read from
// one snapshot: equal digests mean identical contents. Tests use it to
// show that a refused write changed nothing.
func (s *Store) Digest(ctx context.Context) (string, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	var sum string
	err = s.readTx(ctx, func(tx pgx.Tx) error {
		h := sha256.New()
		var n [8]byte
		for i, q := range digestQueries {
			binary.BigEndian.PutUint64(n[:], uint64(i))
			h.Write(n[:])
			rows, err := tx.Query(ctx, q)
			if err != nil {
				return err
			}
			var row string
			if _, err := pgx.ForEachRow(rows, []any{&row}, func() error {
				// Length-prefixed, so rows cannot run into each other.
				binary.BigEndian.PutUint64(n[:], uint64(len(row)))
				h.Write(n[:])
				h.Write([]byte(row))
				return nil
			}); err != nil {
				return err
			}
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	return sum, nil
}
