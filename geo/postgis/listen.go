package postgis

import (
	"context"
	"log/slog"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/jackc/pgx/v5"
)

// Listener is a connection of its own LISTENing on one channel.
type Listener struct {
	// Notes receives a value after notifications arrive (a burst is coalesced into one).
	Notes <-chan struct{}
	// Err receives the error that ended listening (the connection broke, or ctx ended).
	Err <-chan error

	cancel func()
	done   chan struct{}
	conn   *pgx.Conn
}

// Listen takes a connection out of the pool (a LISTENing connection must not go back to it)
// and LISTENs on channel until Close or ctx ends.
func (db *DB) Listen(ctx context.Context, channel string) (*Listener, error) {
	ctx, cancel := context.WithCancel(ctx)
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		cancel()
		return nil, Wrap(err)
	}
	conn := c.Hijack()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		cancel()
		conn.Close(context.Background())
		return nil, Wrap(err)
	}
	notes, errc := make(chan struct{}, 1), make(chan error, 1)
	l := &Listener{Notes: notes, Err: errc, cancel: cancel, done: make(chan struct{}), conn: conn}
	go func() { // ends when ctx is cancelled (WaitForNotification returns)
		defer close(l.done)
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				errc <- geo.Errorf(geo.EUNAVAILABLE, "listening for changes failed: %v", err)
				return
			}
			select {
			case notes <- struct{}{}:
			default:
			}
		}
	}()
	return l, nil
}

// Close stops listening and closes the connection.
func (l *Listener) Close() {
	l.cancel()
	<-l.done
	l.conn.Close(context.Background())
}

// Retry runs fn until ctx ends, logging each error it returns and running it again after a
// back-off that doubles from a second up to a minute. For followers that must outlive a
// database restart.
func Retry(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) {
	for wait := time.Second; ctx.Err() == nil; {
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn(what+": interrupted; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}
