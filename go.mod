module github.com/flora-ml/flora

go 1.26.8

require (
	github.com/gomlx/gomlx v0.26.0
	github.com/spf13/pflag v1.1.0
	golang.org/x/text v0.28.0
)

require (
	github.com/clipperhouse/uax29/v2 v2.6.0 // indirect
	github.com/go-logr/logr v1.4.3 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/mattn/go-runewidth v0.0.19 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/schollz/progressbar/v3 v3.19.1 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	golang.org/x/exp v0.0.0-20250819193227-8b4c13bb791b // indirect
	golang.org/x/sys v0.46.0 // indirect
	k8s.io/klog/v2 v2.130.1 // indirect
)
