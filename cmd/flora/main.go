// Command flora trains LoRA adapters for the FLUX.2 image models and ships the
// tools to use them: sampling, evaluation, dataset checks and model inspection.
//
// Usage:
//
//	flora <command> [flags]
//
// Run `flora help` for the list of commands and `flora <command> --help` for
// the flags of one command.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/pflag"
)

// command is one `flora` subcommand. Commands register themselves in init()
// functions of their own files (cmd_*.go), so each file owns one command.
type command struct {
	// name is the word typed after `flora`.
	name string
	// summary is the one-line description shown in `flora help`.
	summary string
	// usage is the synopsis shown in the command's --help, after "flora ".
	usage string
	// flags builds the command's flag set; the returned closure runs it with
	// the positional arguments left after flag parsing.
	setup func(fs *pflag.FlagSet) func(args []string) error
}

// commands is the registry filled by the init() functions of cmd_*.go.
var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("flora: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError marks errors caused by a bad command line; they exit with code 2
// and print the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one flora command line and returns the process exit code:
// 0 success, 1 failure, 2 bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fs := newFlagSet(c, stdout)
				c.setup(fs)
				fs.Usage()
				return 0
			}
			fmt.Fprintf(stderr, "flora: unknown command %q\n", args[1])
			printUsage(stderr)
			return 2
		}
		printUsage(stdout)
		return 0
	case "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "flora: unknown command %q\n", name)
		printUsage(stderr)
		return 2
	}
	fs := newFlagSet(c, stderr)
	runFn := c.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		fmt.Fprintf(stderr, "flora %s: %v\n", c.name, err)
		fs.Usage()
		return 2
	}
	err := runFn(fs.Args())
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "flora %s: %v\n", c.name, err)
		fs.Usage()
		return 2
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "flora %s: %s\n", c.name, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "flora %s: %v\n", c.name, err)
	return 1
}

// exitError ends a command with a specific exit code (e.g. `data check`
// returns 1 after printing its own report).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func newFlagSet(c *command, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("flora "+c.name, pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: flora %s\n\n%s\n", c.usage, c.summary)
		if fs.HasFlags() {
			fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
		}
		fmt.Fprintln(w)
	}
	return fs
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "flora %s: LoRA training for the FLUX.2 image models\n\nUsage: flora <command> [flags]\n\nCommands:\n", version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n", width, "help", "show this list, or `flora help <command>`")
	fmt.Fprintln(w, "\nRun `flora <command> --help` for the flags of a command.")
}
