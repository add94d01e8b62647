package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gcrm/gcrm/geo/geocode"
)

func main() {
	t := time.Now()
	a, err := geocode.ReadOSMAddresses(context.Background(), "/work/shared/data/osm/andorra.osm.pbf")
	fmt.Println(len(a), err, time.Since(t))
	kinds := map[string]int{}
	interp := 0
	for _, x := range a {
		kinds[x.OSMType]++
		if x.Interpolated {
			interp++
		}
	}
	fmt.Println(kinds, interp)
	for i := 0; i < len(a); i += len(a) / 10 {
		fmt.Printf("%+v\n", a[i])
	}
}
