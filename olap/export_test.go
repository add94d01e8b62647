package olap

// CubeTestMode makes cubes built from now on keep every cuboid however many cells it has,
// and merge appended cells and re-sort records after a few writes (so random tests at
// test sizes reach every storage path), and read roll-ups by H3 resolution of a few cells
// on two cores, and index the sums of runs of a few records; it returns the undo.
func CubeTestMode() func() {
	keep, merge, split, runs := cubeKeepAll, cubeMergeMin, cubeSplitMin, runMin
	cubeKeepAll, cubeMergeMin, cubeSplitMin, runMin = true, 4, 8, 4
	return func() { cubeKeepAll, cubeMergeMin, cubeSplitMin, runMin = keep, merge, split, runs }
}

// RunMinForTest makes cubes built from now on index the sums of runs of at least n
// records; it returns the undo.
func RunMinForTest(n int) func() {
	old := runMin
	runMin = n
	return func() { runMin = old }
}

// AssignChangedSQL is AssignChanged's query of the changed customers.
const AssignChangedSQL = assignChangedSQL
