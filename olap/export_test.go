package olap

// CubeTestMode makes cubes built from now on keep every cuboid however many cells it has,
// and merge appended cells and re-sort records after a few writes (so random tests at
// test sizes reach every storage path), and read roll-ups by H3 resolution of a few cells
// on two cores; it returns the undo.
func CubeTestMode() func() {
	keep, merge, split := cubeKeepAll, cubeMergeMin, cubeSplitMin
	cubeKeepAll, cubeMergeMin, cubeSplitMin = true, 4, 8
	return func() { cubeKeepAll, cubeMergeMin, cubeSplitMin = keep, merge, split }
}

// AssignChangedSQL is AssignChanged's query of the changed customers.
const AssignChangedSQL = assignChangedSQL
