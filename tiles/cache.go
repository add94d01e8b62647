package tiles

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"sync"
)

// Rendered is one tile ready to serve: its bytes, ETag and (made on first use) gzip.
type Rendered struct {
	Version uint64 // the engine's tile version it was rendered at
	ETag    string
	Body    []byte
	Stats   RenderStats

	gzOnce sync.Once
	gz     []byte
}

// Gzip returns Body gzipped (BestSpeed: it costs more than encoding), computed once.
func (r *Rendered) Gzip() []byte {
	r.gzOnce.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		_, _ = w.Write(r.Body)
		_ = w.Close()
		r.gz = b.Bytes()
	})
	return r.gz
}

func (r *Rendered) size() int64 { return int64(len(r.Body)+len(r.gz)+len(r.ETag)) + 200 }

// Cache keeps rendered tiles, least recently used out first, within MaxBytes.
type Cache struct {
	MaxBytes int64

	mu    sync.Mutex
	bytes int64
	lru   list.List // of *cacheEntry, most recent first
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	r   *Rendered
}

// NewCache returns a cache of at most maxBytes.
func NewCache(maxBytes int64) *Cache {
	return &Cache{MaxBytes: maxBytes, items: map[string]*list.Element{}}
}

// Get returns the tile cached under key if it was rendered at version.
func (c *Cache) Get(key string, version uint64) (*Rendered, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if e.r.Version != version {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.r, true
}

// Put caches r under key (replacing what was there), evicting the oldest tiles past
// MaxBytes.
func (c *Cache) Put(key string, r *Rendered) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	c.items[key] = c.lru.PushFront(&cacheEntry{key, r})
	c.bytes += r.size()
	for c.bytes > c.MaxBytes && c.lru.Len() > 1 {
		c.remove(c.lru.Back())
	}
}

func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.items, e.key)
	c.bytes -= e.r.size()
}

// Len returns the number of cached tiles.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
