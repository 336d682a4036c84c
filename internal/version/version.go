// Package version holds what the manager knows about its own build: the
// release version and git revision stamped in by the Makefile and the
// Dockerfile (-ldflags -X), and the Go toolchain and platform it was built
// for. `manager --version` prints it and the build_info metric carries it.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Revision are set at link time:
//
//	-X github.com/mcp-session-operator/mcp-session-operator/internal/version.Version=0.1.0
//	-X github.com/mcp-session-operator/mcp-session-operator/internal/version.Revision=<git commit>
//
// The Makefile's LDFLAGS does this for every build of the manager.
var (
	// Version is the release version (semver, no leading v).
	Version = DefaultVersion
	// Revision is the git commit the binary was built from.
	Revision = ""
)

// DefaultVersion is the version of a binary built without the Makefile's
// LDFLAGS (plain `go build`, `go test`).
const DefaultVersion = "0.0.0-dev"

// Unknown stands for a revision nobody recorded.
const Unknown = "unknown"

// Info is the build information of the running binary.
type Info struct {
	Version   string
	Revision  string
	GoVersion string
	Platform  string // GOOS/GOARCH
}

// Get returns the build information. Values not stamped in with -ldflags
// come from the module's build info where Go recorded them: the module
// version of a `go install module@version`, and the vcs.revision of a
// build from a git checkout (not recorded under -buildvcs=false, as in CI,
// hence the ldflags).
func Get() Info {
	return get(Version, Revision, readBuildInfo)
}

// readBuildInfo is debug.ReadBuildInfo, replaced in tests.
var readBuildInfo = debug.ReadBuildInfo

func get(version, revision string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: version, Revision: revision, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := read(); ok {
		info.GoVersion = bi.GoVersion
		if info.Version == "" || info.Version == DefaultVersion {
			// "(devel)" is what Go records for the main module of a local build.
			if v := bi.Main.Version; v != "" && v != "(devel)" {
				info.Version = trimV(v)
			}
		}
		if info.Revision == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					info.Revision = s.Value
				}
			}
		}
	}
	if info.Version == "" {
		info.Version = DefaultVersion
	}
	if info.Revision == "" {
		info.Revision = Unknown
	}
	return info
}

func trimV(v string) string {
	if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

// String is the one-line human form, as `manager --version` prints it:
//
//	mcp-session-operator 0.1.0 (revision 0123abcd..., go1.26.8, linux/amd64)
func (i Info) String() string {
	return fmt.Sprintf("mcp-session-operator %s (revision %s, %s, %s)", i.Version, i.Revision, i.GoVersion, i.Platform)
}

// String is Get().String().
func String() string { return Get().String() }
