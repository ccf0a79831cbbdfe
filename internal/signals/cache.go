package signals

import (
	"container/list"
	"sync"
)

// Cache keeps decoded channels within a byte budget, least recently used
// first out. It is safe for concurrent use.
type Cache struct {
	mu     sync.Mutex
	budget int64
	used   int64
	ll     *list.List
	items  map[string]*list.Element
	hits   int64
	misses int64
}

type entry struct {
	key string
	val []float64
}

// NewCache makes a cache holding at most budget bytes of samples.
func NewCache(budget int64) *Cache {
	return &Cache{budget: budget, ll: list.New(), items: map[string]*list.Element{}}
}

// Get returns the channel cached under key.
func (c *Cache) Get(key string) ([]float64, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		c.hits++
		return e.Value.(*entry).val, true
	}
	c.misses++
	return nil, false
}

// Put caches val under key; a value larger than the whole budget is not kept.
func (c *Cache) Put(key string, val []float64) {
	if c == nil {
		return
	}
	size := int64(len(val)) * 8
	if size > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.used -= int64(len(e.Value.(*entry).val)) * 8
		e.Value.(*entry).val = val
		c.used += size
		c.ll.MoveToFront(e)
	} else {
		c.items[key] = c.ll.PushFront(&entry{key, val})
		c.used += size
	}
	for c.used > c.budget {
		e := c.ll.Back()
		ent := e.Value.(*entry)
		c.ll.Remove(e)
		delete(c.items, ent.key)
		c.used -= int64(len(ent.val)) * 8
	}
}

// Stats returns the bytes in use, hits and misses.
func (c *Cache) Stats() (used, hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, c.hits, c.misses
}
