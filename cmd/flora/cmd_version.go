package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/internal/version"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the flora version, Go version and build information",
		usage:   "version",
		setup: func(fs *pflag.FlagSet) func([]string) error {
			return func(args []string) error {
				if len(args) > 0 {
					return usageErrorf("version takes no arguments, got %q", args)
				}
				fmt.Fprintln(cliOut, version.Software())
				fmt.Fprintf(cliOut, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, dep := range bi.Deps {
						switch dep.Path {
						case "github.com/gomlx/gomlx", "github.com/gomlx/go-xla":
							fmt.Fprintf(cliOut, "%s %s\n", dep.Path, dep.Version)
						}
					}
					for _, s := range bi.Settings {
						if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
							fmt.Fprintf(cliOut, "%s %s\n", s.Key, s.Value)
						}
					}
				}
				return nil
			}
		},
	})
}
