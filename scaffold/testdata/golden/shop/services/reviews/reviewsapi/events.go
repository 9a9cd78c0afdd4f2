package reviewsapi

// Events reviews publishes for its sample resource, each the data of one
// type of event. platform/messaging carries them: reviews's store adds
// one in the transaction of each change, and a service that subscribes
// (msx new service NAME --subscribes reviews.item.created) gets a
// handler that receives the type below. Add fields freely; renaming or
// removing one breaks the subscribers that read it, at compile time.
//
// Both name the item as their OrderingKey: a subscriber applies the events
// of one item in the order their changes committed, whatever the number
// of replicas (platform/messaging's Keyed).

import "strconv"

// ItemCreated is the data of reviews.item.created.
type ItemCreated struct {
	ItemID int64  `json:"item_id"`
	Name   string `json:"name"`
}

// ItemDeleted is the data of reviews.item.deleted.
type ItemDeleted struct {
	ItemID int64 `json:"item_id"`
}

// EventType names the type of the event: item.created.
func (ItemCreated) EventType() string { return "item.created" }

// EventType names the type of the event: item.deleted.
func (ItemDeleted) EventType() string { return "item.deleted" }

// OrderingKey is the item the event is about.
func (e ItemCreated) OrderingKey() string { return itemKey(e.ItemID) }

// OrderingKey is the item the event is about.
func (e ItemDeleted) OrderingKey() string { return itemKey(e.ItemID) }

func itemKey(id int64) string { return "item/" + strconv.FormatInt(id, 10) }
