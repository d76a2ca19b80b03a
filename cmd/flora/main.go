// Command flora trains LoRA adapters for the FLUX.2 image models and ships the
// tools to use them: sampling, evaluation, dataset checks and model inspection.
//
// Usage:
//
//	flora <command> [subcommand] [flags]
//
// Run `flora help` for the list of commands and `flora <command> --help` for
// the flags of one command.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/flora-ml/flora/internal/version"
	"github.com/spf13/pflag"
)

// command is one `flora` command or subcommand. Commands register themselves in
// init() functions of their own files (cmd_*.go), so each file owns one command.
type command struct {
	// name is the word typed after `flora` (or after the parent command).
	name string
	// summary is the one-line description shown in command lists.
	summary string
	// usage is the synopsis shown in --help, after "flora ".
	usage string
	// setup declares the command's flags on fs and returns the function that
	// runs it with the positional arguments left after flag parsing. Nil for
	// a command group.
	setup func(fs *pflag.FlagSet) func(args []string) error
	// subcommands of a command group such as `flora model` (setup is nil).
	subcommands []*command
}

// commands is the registry filled by the init() functions of cmd_*.go.
var commands = map[string]*command{}

// register adds a top-level command (or command group) to the registry.
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

// exitError ends a command with a specific exit code (e.g. `data check`
// returns 1 after printing its own report). An empty msg prints nothing more.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// cliOut and cliErr are where commands print: the process's stdout and
// stderr, replaced by buffers when tests call run.
var cliOut, cliErr io.Writer = os.Stdout, os.Stderr

func main() {
	reexecWithMallocTunables()
	setMemoryLimit()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// machine's RAM (unless GOMEMLIMIT is set): Flora holds models of many GB on
// the host, and the GC's default pacing lets the heap reach twice the live
// size before collecting, which would run a large load out of memory.
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), "kB"), &kb); err == nil && kb > 0 {
				debug.SetMemoryLimit(kb << 10 / 10 * 9)
			}
			return
		}
	}
}

// run executes one flora command line and returns the process exit code:
// 0 success, 1 failure, 2 bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	cliOut, cliErr = stdout, stderr
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		return runHelp(args[1:], stdout, stderr)
	case "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	c := topCommand(args[0], stderr)
	if c == nil {
		return 2
	}
	path := "flora " + c.name
	args = args[1:]
	for c.subcommands != nil {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			w := stdout
			code := 0
			if len(args) == 0 {
				w, code = stderr, 2
			}
			printGroupUsage(w, path, c)
			return code
		}
		sub := findSub(c, path, args[0], stderr)
		if sub == nil {
			return 2
		}
		c, path, args = sub, path+" "+sub.name, args[1:]
	}
	return runLeaf(c, path, args, stdout, stderr)
}

func runLeaf(c *command, path string, args []string, stdout, stderr io.Writer) int {
	// pflag prints the usage itself on -h/--help, to the flag set's output:
	// stdout while parsing, so help is printed once, to stdout (exit 0).
	// Usage after an error goes to stderr.
	fs := newFlagSet(c, path, stdout)
	runFn := c.setup(fs)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		printUsageHint(stderr, c, path)
		return 2
	}
	err = runFn(fs.Args())
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		printUsageHint(stderr, c, path)
		return 2
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "%s: %s\n", path, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "%s: %v\n", path, err)
	return 1
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return 0
	}
	c := topCommand(args[0], stderr)
	if c == nil {
		return 2
	}
	path := "flora " + c.name
	for _, a := range args[1:] {
		if c.subcommands == nil {
			break
		}
		sub := findSub(c, path, a, stderr)
		if sub == nil {
			return 2
		}
		c, path = sub, path+" "+sub.name
	}
	if c.subcommands != nil {
		printGroupUsage(stdout, path, c)
		return 0
	}
	fs := newFlagSet(c, path, stdout)
	c.setup(fs)
	fs.Usage()
	return 0
}

// topCommand finds the top-level command name; an unknown one is reported
// on stderr with the list of commands, and gives nil.
func topCommand(name string, stderr io.Writer) *command {
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "flora: unknown command %q\n", name)
		printUsage(stderr)
	}
	return c
}

// findSub finds the subcommand name of group (at path); an unknown one is
// reported on stderr with the group's usage, and gives nil.
func findSub(group *command, path, name string, stderr io.Writer) *command {
	for _, s := range group.subcommands {
		if s.name == name {
			return s
		}
	}
	fmt.Fprintf(stderr, "%s: unknown subcommand %q\n", path, name)
	printGroupUsage(stderr, path, group)
	return nil
}

// printUsageHint follows a command-line error: the usage line and where
// the flags are described, so the error stays the first thing read.
func printUsageHint(w io.Writer, c *command, path string) {
	fmt.Fprintf(w, "Usage: flora %s\nRun '%s --help' for the flags.\n", c.usage, path)
}

func newFlagSet(c *command, path string, out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(path, pflag.ContinueOnError)
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

func printGroupUsage(w io.Writer, path string, group *command) {
	fmt.Fprintf(w, "Usage: %s <subcommand> [flags]\n\n%s\n\nSubcommands:\n", path, group.summary)
	width := 0
	for _, s := range group.subcommands {
		width = max(width, len(s.name))
	}
	for _, s := range group.subcommands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun `%s <subcommand> --help` for its flags.\n", path)
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "%s: LoRA training for the FLUX.2 image models\n\nUsage: flora <command> [flags]\n\nCommands:\n", version.Software())
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := len("help")
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n", width, "help", "show this list, or `flora help <command>`")
	fmt.Fprintln(w, "\nRun `flora <command> --help` for the flags of a command.")
}
