package olap

// CubeTestMode makes cubes built from now on keep every cuboid however many cells it has,
// and merge appended cells and re-sort records after a few writes (so random tests at
// test sizes reach every storage path); it returns the undo.
func CubeTestMode() func() {
	keep, merge := cubeKeepAll, cubeMergeMin
	cubeKeepAll, cubeMergeMin = true, 4
	return func() { cubeKeepAll, cubeMergeMin = keep, merge }
}

// AssignChangedSQL is AssignChanged's query of the changed customers.
const AssignChangedSQL = assignChangedSQL
