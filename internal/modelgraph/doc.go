// Package modelgraph holds the graph-building helpers every model package
// (flux2, textenc, vae) shares: Weights, the named-parameter view graph code
// reads its weights through; LinearApply, the PyTorch-layout linear layer;
// and the GoMLX-style graph-building errors (Panicf, Tag.AssertDims).
package modelgraph
