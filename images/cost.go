package images

import (
	"fmt"
	"math"
)

// SnapshotPrices are the list prices of what a built AMI costs, in USD,
// in the style of preflight.PriceTable.
type SnapshotPrices struct {
	Region   string
	Observed string
	Source   string
	// SnapshotGBMonth is EBS snapshot storage, standard tier, per GB-month
	// of the blocks stored (AWS bills a snapshot for the blocks it holds,
	// not its volume size; EBS pricing page, "Snapshots").
	SnapshotGBMonth float64
	// PutBlocksPer1000 is the EBS direct APIs' PutSnapshotBlock, per
	// thousand requests: the build's one-off charge.
	PutBlocksPer1000 float64
}

// Prices are the snapshot prices the estimate uses. They are us-east-1's
// list prices ($0.05 per GB-month, $0.006 per thousand PutSnapshotBlock),
// assumed for ap-southeast-1, the region of preflight.Prices: not
// observed there, so the cost line says so.
var Prices = SnapshotPrices{
	Region:           "ap-southeast-1",
	Observed:         "not observed: us-east-1's list prices assumed",
	Source:           "Amazon EBS pricing page, us-east-1",
	SnapshotGBMonth:  0.05,
	PutBlocksPer1000: 0.006,
}

// BlockSize is the EBS direct APIs' block: every PutSnapshotBlock writes
// 512 KiB (PutSnapshotBlock DataLength: "the only supported size is
// 524288 bytes").
const BlockSize = 512 << 10

// AssumedStoredBytes is what one AMI's snapshot is assumed to hold before
// it is built: 1 GiB. An upper estimate: the 8 GiB image is mostly
// zeros, which are never written, and the factory's compressed aws image
// is 80-110 MB (image-factory internal/integration/download_test.go,
// v0.9.0), most of it already-compressed kernel, initramfs and squashfs.
// After a build the exact figure is Result.StoredBytes.
const AssumedStoredBytes = 1 << 30

// SnapshotCost is the monthly cost line of the AMIs a stack uses: one
// snapshot per AMI, each holding storedBytes (AssumedStoredBytes before
// a build). Shared AMIs (another stack, same schematic) are counted by
// every stack that uses them.
type SnapshotCost struct {
	Item    string
	Detail  string
	Monthly float64
	// OneOff is the build's request charge, paid once per AMI built.
	OneOff float64
}

// CostOf prices amis snapshots of storedBytes each.
func CostOf(amis int, storedBytes int64, p SnapshotPrices) SnapshotCost {
	gb := float64(storedBytes) / (1 << 30)
	blocks := math.Ceil(float64(storedBytes) / BlockSize)
	monthly := math.Round(float64(amis)*gb*p.SnapshotGBMonth*100) / 100
	oneOff := math.Round(float64(amis)*blocks/1000*p.PutBlocksPer1000*100) / 100
	return SnapshotCost{
		Item:    "AMI snapshots",
		Detail:  fmt.Sprintf("%d × %.2f GB × $%.3f/GB-month (prices %s)", amis, gb, p.SnapshotGBMonth, p.Observed),
		Monthly: monthly,
		OneOff:  oneOff,
	}
}
