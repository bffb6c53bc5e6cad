package io.statebackend.incremental.rocksdb;

import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.CompactRangeOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The work after a rescaling restore that the task need not wait for, on a daemon thread: clipping
 * column families to the backend's key range, which physically removes the entries that the restore
 * already deleted logically, and optionally a compaction of that range. It is stopped, and waited
 * for, before its database is closed.
 */
final class BackgroundCompaction {

    private static final Logger LOG = LoggerFactory.getLogger(BackgroundCompaction.class);

    private final RocksDB db;
    private final CompactRangeOptions options;
    private final Thread thread;
    private final AtomicBoolean stopped = new AtomicBoolean();

    private BackgroundCompaction(
            RocksDB db,
            List<ColumnFamilyHandle> toClip,
            List<ColumnFamilyHandle> toCompact,
            byte[] begin,
            byte[] end,
            File path) {
        this.db = db;
        this.options =
                new CompactRangeOptions()
                        .setExclusiveManualCompaction(false)
                        .setBottommostLevelCompaction(
                                CompactRangeOptions.BottommostLevelCompaction.kForceOptimized);
        final List<ColumnFamilyHandle> clip = new ArrayList<>(toClip);
        final List<ColumnFamilyHandle> compact = new ArrayList<>(toCompact);
        this.thread =
                new Thread(
                        () -> run(clip, compact, begin, end, path),
                        "incremental-rocksdb-clip-after-restore");
        this.thread.setDaemon(true);
    }

    static BackgroundCompaction start(
            RocksDB db,
            List<ColumnFamilyHandle> toClip,
            List<ColumnFamilyHandle> toCompact,
            byte[] begin,
            byte[] end,
            File path) {
        BackgroundCompaction work =
                new BackgroundCompaction(db, toClip, toCompact, begin, end, path);
        work.thread.start();
        return work;
    }

    private void run(
            List<ColumnFamilyHandle> toClip,
            List<ColumnFamilyHandle> toCompact,
            byte[] begin,
            byte[] end,
            File path) {
        final long start = System.nanoTime();
        try {
            for (ColumnFamilyHandle columnFamily : toClip) {
                if (stopped.get()) {
                    return;
                }
                db.clipColumnFamily(columnFamily, begin, end);
            }
            for (ColumnFamilyHandle columnFamily : toCompact) {
                if (stopped.get()) {
                    return;
                }
                db.compactRange(columnFamily, begin, end, options);
            }
            LOG.info(
                    "Clipped {} and compacted {} column families of {} after restore in {} ms.",
                    toClip.size(),
                    toCompact.size(),
                    path,
                    (System.nanoTime() - start) / 1_000_000);
        } catch (RocksDBException e) {
            if (!stopped.get()) {
                LOG.warn(
                        "Clipping or compacting {} after restore failed; the state is unaffected,"
                                + " RocksDB's own compactions will remove the deleted entries.",
                        path,
                        e);
            }
        }
    }

    /** Waits until the work is done, without stopping it. */
    void await() throws InterruptedException {
        thread.join();
    }

    /** Cancels the work and waits until its thread has left RocksDB. */
    void stop() {
        stopped.set(true);
        options.setCanceled(true);
        if (thread.isAlive()) {
            // makes a running clip or compaction return early; the database is closing anyway
            db.cancelAllBackgroundWork(true);
        }
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        options.close();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
