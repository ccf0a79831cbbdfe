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
	key  string
	val  any
	size int64
}

// NewCache makes a cache holding at most budget bytes of samples.
func NewCache(budget int64) *Cache {
	return &Cache{budget: budget, ll: list.New(), items: map[string]*list.Element{}}
}

// Get returns the channel cached under key.
func (c *Cache) Get(key string) ([]float64, bool) {
	v, ok := c.get(key)
	x, _ := v.([]float64)
	return x, ok && x != nil
}

// Put caches a channel under key; a value larger than the whole budget is
// not kept.
func (c *Cache) Put(key string, val []float64) { c.put(key, val, int64(len(val))*8) }

// GetBytes returns an encoded answer cached under key.
func (c *Cache) GetBytes(key string) ([]byte, bool) {
	v, ok := c.get(key)
	b, _ := v.([]byte)
	return b, ok && b != nil
}

// PutBytes caches an encoded answer under key.
func (c *Cache) PutBytes(key string, b []byte) { c.put(key, b, int64(len(b))) }

func (c *Cache) get(key string) (any, bool) {
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

func (c *Cache) put(key string, val any, size int64) {
	if c == nil || size > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		ent := e.Value.(*entry)
		c.used += size - ent.size
		ent.val, ent.size = val, size
		c.ll.MoveToFront(e)
	} else {
		c.items[key] = c.ll.PushFront(&entry{key, val, size})
		c.used += size
	}
	for c.used > c.budget {
		e := c.ll.Back()
		ent := e.Value.(*entry)
		c.ll.Remove(e)
		delete(c.items, ent.key)
		c.used -= ent.size
	}
}

// Stats returns the bytes in use, hits and misses.
func (c *Cache) Stats() (used, hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, c.hits, c.misses
}
