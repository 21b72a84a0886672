package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/handlers"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/lock"
	"github.com/agentdesk/agentdesk/runs"
	"github.com/agentdesk/agentdesk/store"
)

// backends are the shared servers a replica is connected to, and the stores
// on them (each store migrates its own tables when it is made).
type backends struct {
	cfg    config.Stores
	sqlite *store.DB     // this replica's own database
	pg     *store.DB     // nil unless AGENTDESK_DATABASE_URL is set
	redis  *redis.Client // nil unless a store uses Redis
	stop   []func()

	sessions    scs.Store
	sqlSessions *store.SessionStore // the session store when it is SQL (metrics count it)
	lock        jobs.Locker         // nil: the jobs service's in-process default
	runStore    jobs.RunStore       // nil: this replica only
	userStore   *store.Users
}

// openBackends connects to the servers the configuration names and checks they
// answer, so a wrong address fails the start with the variable to fix. db is
// the replica's own SQLite database.
func openBackends(ctx context.Context, cfg config.Stores, db *store.DB, log *slog.Logger) (*backends, error) {
	b := &backends{cfg: cfg, sqlite: db}
	uses := func(kind string) bool { return cfg.Session == kind || cfg.Lock == kind }
	// The audit log uses PostgreSQL whenever it is configured, so connect then
	// too: one pool, and /readyz covers it.
	if uses("postgres") || cfg.DatabaseURL != "" {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		pg, err := store.OpenPostgres(pctx, cfg.DatabaseURL)
		if err != nil {
			return nil, &config.Error{Var: "AGENTDESK_DATABASE_URL", Msg: err.Error()}
		}
		b.pg = pg
		b.stop = append(b.stop, func() { pg.Close() })
	}
	if uses("redis") {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			b.Close()
			// The parse error may quote the URL, password included.
			return nil, &config.Error{Var: "AGENTDESK_REDIS_URL", Msg: "not a valid redis:// URL"}
		}
		// go-redis logs through the standard log package (unstructured lines
		// on stderr, one at the first connection); send them to slog.
		redis.SetLogger(redisLog{log: log.With("component", "redis")})
		client := redis.NewClient(opt)
		b.redis = client
		b.stop = append(b.stop, func() { client.Close() })
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := client.Ping(pctx).Err(); err != nil {
			b.Close()
			return nil, &config.Error{Var: "AGENTDESK_REDIS_URL", Msg: fmt.Sprintf("cannot reach Redis at %s: %v", opt.Addr, err)}
		}
	}
	if cfg.Lock == "memory" && cfg.Session != "" && cfg.Session != "sqlite" {
		log.Warn("sessions are shared but job locks are in-process: with several replicas set AGENTDESK_LOCK_STORE, or a double click on two replicas reaches EM twice")
	}
	if err := b.openStores(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// openStores makes the stores for the configured kinds.
func (b *backends) openStores(ctx context.Context) error {
	var err error
	switch b.cfg.Session {
	case "redis":
		// Redis expires the keys itself.
		b.sessions = goredisstore.NewWithPrefix(b.redis, b.cfg.RedisPrefix+"session:")
	default: // sqlite, postgres
		db := b.sqlite
		if b.cfg.Session == "postgres" {
			db = b.pg
		}
		if b.sqlSessions, err = store.NewSessionStore(ctx, db, 5*time.Minute); err != nil {
			return err
		}
		b.sessions = b.sqlSessions
		b.stop = append(b.stop, b.sqlSessions.StopCleanup)
	}
	// Job locks and run states: the same kind of store, since both exist
	// only when several replicas serve.
	switch b.cfg.Lock {
	case "postgres":
		l, err := lock.NewPostgres(ctx, b.pg, lock.DefaultPrefix)
		if err != nil {
			return err
		}
		r, err := runs.NewPostgres(ctx, b.pg)
		if err != nil {
			return err
		}
		b.lock, b.runStore = l, r
	case "redis":
		b.lock = lock.NewRedis(b.redis, b.cfg.RedisPrefix+"lock:")
		b.runStore = runs.NewRedis(b.redis, b.cfg.RedisPrefix)
	}
	b.userStore, err = store.NewUsers(ctx, b.db())
	return err
}

// db is the database of what every replica must see alike (the audit log,
// holds, remembered groups): PostgreSQL when one is configured, else this
// replica's SQLite.
func (b *backends) db() *store.DB {
	if b.pg != nil {
		return b.pg
	}
	return b.sqlite
}

// sessionStore is the scs store for the configured kind.
func (b *backends) sessionStore() scs.Store { return b.sessions }

// locker is the job-action lock for the configured kind; nil means the jobs
// service's in-process default.
func (b *backends) locker() jobs.Locker { return b.lock }

// runs is where replicas share the state of the actions they follow; nil
// (this replica only) with in-process locks.
func (b *backends) runs() jobs.RunStore { return b.runStore }

// ping checks the shared servers for /readyz: a replica that cannot reach them
// cannot see sessions or take locks, so it should get no traffic.
func (b *backends) ping(ctx context.Context) error {
	var errs []error
	if b.pg != nil {
		if err := b.pg.PingContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("postgres: %w", err))
		}
	}
	if b.redis != nil {
		if err := b.redis.Ping(ctx).Err(); err != nil {
			errs = append(errs, fmt.Errorf("redis: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close stops the store cleanups and closes the connections, last opened first.
func (b *backends) Close() {
	for i := len(b.stop) - 1; i >= 0; i-- {
		b.stop[i]()
	}
	b.stop = nil
}

// users remembers sign-in groups where every replica can read them: in
// PostgreSQL when one is configured, else in this replica's SQLite.
func (b *backends) users() handlers.Users { return b.userStore }

// redisLog carries go-redis's own log lines (connection pool and protocol
// notes; failures also reach us as errors) into slog at debug level.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}
