package pgstore

import "strings"

// maxConnsSet reports whether the URL sets the pool's size itself.
func maxConnsSet(url string) bool { return strings.Contains(url, "pool_max_conns") }
