package io.statebackend.incremental.rocksdb;

import org.rocksdb.AbstractEventListener;
import org.rocksdb.BackgroundErrorReason;
import org.rocksdb.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;

/**
 * Makes a failed flush or compaction fail the task's writes at once, instead of RocksDB's automatic
 * recovery.
 *
 * <p>When a flush runs out of disk space, RocksDB keeps the error and waits for free space before
 * it resumes; writes that stalled behind the failed flush wait with it, on a native condition that
 * neither an interrupt nor the task's cancellation reaches. Nothing in a TaskManager frees that
 * space while the task waits, so the task hung until Flink killed the TaskManager, with no word
 * about the disk. Without recovery the stalled write returns RocksDB's error ("No space left on
 * device" and the file), the task fails over, and disposing the database frees its files.
 */
public final class BackgroundErrorsFailFast extends AbstractEventListener {

    private static final Logger LOG = LoggerFactory.getLogger(BackgroundErrorsFailFast.class);

    private final File dbPath;

    public BackgroundErrorsFailFast(File dbPath) {
        super(
                EnabledEventCallback.ON_BACKGROUND_ERROR,
                EnabledEventCallback.ON_ERROR_RECOVERY_BEGIN);
        this.dbPath = dbPath;
    }

    @Override
    public void onBackgroundError(BackgroundErrorReason reason, Status backgroundError) {
        LOG.error(
                "RocksDB's background work ({}) failed in {}: {}; the task's next write fails.",
                reason,
                dbPath,
                describe(backgroundError));
    }

    @Override
    public boolean onErrorRecoveryBegin(BackgroundErrorReason reason, Status backgroundError) {
        return false;
    }

    private static String describe(Status status) {
        return status == null ? "unknown error" : status.getCodeString() + ": " + status.getState();
    }
}
