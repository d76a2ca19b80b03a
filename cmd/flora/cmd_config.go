package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/job"
)

func init() {
	register(&command{
		name:    "config",
		summary: "check job configuration files and print them resolved",
		subcommands: []*command{
			{
				name:    "check",
				summary: "validate a job config and report every problem with its key path",
				usage:   "config check FILE [--set path.to.key=value ...]",
				setup: jobFileCmd(func(file string, cfg *job.Config) error {
					fmt.Fprintf(cliOut, "%s: ok (job %q, %d dataset folder(s), %d steps)\n", file, cfg.Name, len(cfg.Dataset.Folders), cfg.Train.Steps)
					return nil
				}),
			},
			{
				name:    "print",
				summary: "print a job config with defaults and overrides applied",
				usage:   "config print FILE [--set path.to.key=value ...]",
				setup:   jobFileCmd(func(_ string, cfg *job.Config) error { return printConfigYAML(cfg) }),
			},
		},
	})
}

// jobFileCmd is the setup of a command that reads the one job file named on
// its command line, with --set overrides, and hands it to do.
func jobFileCmd(do func(file string, cfg *job.Config) error) func(fs *pflag.FlagSet) func([]string) error {
	return func(fs *pflag.FlagSet) func([]string) error {
		sets := addSetFlag(fs)
		return func(args []string) error {
			cfg, err := loadJobArgs(args, *sets)
			if err != nil {
				return err
			}
			return do(args[0], cfg)
		}
	}
}

// printConfigYAML prints a resolved job config as YAML.
func printConfigYAML(cfg *job.Config) error {
	text, err := cfg.YAML()
	if err != nil {
		return err
	}
	fmt.Fprint(cliOut, text)
	return nil
}

// addSetFlag declares the repeatable --set flag shared by commands that read
// a job config. StringArray keeps commas inside values (lists) intact.
func addSetFlag(fs *pflag.FlagSet) *[]string {
	return fs.StringArray("set", nil, "override a config value, e.g. --set train.lr=2e-4 (repeatable; value parsed as YAML)")
}

// loadJobArgs loads the single job file named on the command line.
func loadJobArgs(args, sets []string) (*job.Config, error) {
	if len(args) != 1 {
		return nil, usageErrorf("expected one job config file, got %d arguments", len(args))
	}
	return job.Load(args[0], sets)
}

// loadJobFlag loads the job file given with --config (config), for commands
// that take no positional arguments.
func loadJobFlag(args []string, config string, sets []string) (*job.Config, error) {
	if len(args) != 0 || config == "" {
		return nil, usageErrorf("expected --config")
	}
	return job.Load(config, sets)
}
