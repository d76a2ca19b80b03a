package tensorload

// Elements returns the number of elements of a tensor of the given
// dimensions (1 for a scalar).
func Elements(dims []int) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	return n
}

// CountElements returns the total number of elements of the tensors of a
// name → dimensions map (a model's parameter count).
func CountElements(shapes map[string][]int) int64 {
	var total int64
	for _, s := range shapes {
		total += Elements(s)
	}
	return total
}
