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
 * A compaction of one key range that runs after a rescaling restore on a daemon thread, so that the
 * task starts processing at once. It is stopped, and waited for, before its database is closed.
 */
final class BackgroundCompaction {

    private static final Logger LOG = LoggerFactory.getLogger(BackgroundCompaction.class);

    private final RocksDB db;
    private final CompactRangeOptions options;
    private final Thread thread;
    private final AtomicBoolean stopped = new AtomicBoolean();

    private BackgroundCompaction(
            RocksDB db, List<ColumnFamilyHandle> handles, byte[] begin, byte[] end, File path) {
        this.db = db;
        this.options =
                new CompactRangeOptions()
                        .setExclusiveManualCompaction(false)
                        .setBottommostLevelCompaction(
                                CompactRangeOptions.BottommostLevelCompaction.kForceOptimized);
        final List<ColumnFamilyHandle> columnFamilies = new ArrayList<>(handles);
        this.thread =
                new Thread(
                        () -> compact(columnFamilies, begin, end, path),
                        "incremental-rocksdb-compaction-after-restore");
        this.thread.setDaemon(true);
    }

    static BackgroundCompaction start(
            RocksDB db, List<ColumnFamilyHandle> handles, byte[] begin, byte[] end, File path) {
        BackgroundCompaction compaction = new BackgroundCompaction(db, handles, begin, end, path);
        compaction.thread.start();
        return compaction;
    }

    private void compact(
            List<ColumnFamilyHandle> columnFamilies, byte[] begin, byte[] end, File path) {
        final long start = System.nanoTime();
        try {
            for (ColumnFamilyHandle columnFamily : columnFamilies) {
                if (stopped.get()) {
                    return;
                }
                db.compactRange(columnFamily, begin, end, options);
            }
            LOG.info(
                    "Compaction after restore of {} finished after {} ms.",
                    path,
                    (System.nanoTime() - start) / 1_000_000);
        } catch (RocksDBException e) {
            if (!stopped.get()) {
                LOG.warn("Compaction after restore of {} failed; state is unaffected.", path, e);
            }
        }
    }

    /** Cancels the compaction and waits until its thread has left RocksDB. */
    void stop() {
        stopped.set(true);
        // makes a running manual compaction return early
        options.setCanceled(true);
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
