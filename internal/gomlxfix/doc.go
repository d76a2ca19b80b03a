// Package gomlxfix works around gaps of GoMLX v0.26.0 (the newest version the
// module proxy serves): GEMM-based gradients for DotGeneral/Dot, the VJPs the
// FLUX.2 model needs that GoMLX lacks, and safe configuration of the pure-Go
// backend. Importing the package installs the fixes (in init).
package gomlxfix
