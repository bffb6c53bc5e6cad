package io.statebackend.incremental;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.MemorySize;

import java.time.Duration;

/**
 * Configuration options of the backend. Where Flink's own RocksDB backend has a key with the same
 * meaning, the same key is used so that switching backends is a one-line change in {@code
 * flink-conf.yaml}. Keys specific to this backend live under {@value #OWN_PREFIX}.
 */
public final class IncrementalRocksDBOptions {

    /** Prefix of the keys that only this backend understands. */
    public static final String OWN_PREFIX = "state.backend.incremental-rocksdb.";

    /** Where the timers of the keyed state backend are kept. */
    public enum PriorityQueueStateType {
        /** Timers live on the JVM heap and are written into checkpoints synchronously. */
        HEAP,
        /** Timers live in RocksDB, with a small in-memory cache of each key-group's head. */
        ROCKSDB
    }

    public static final ConfigOption<Boolean> INCREMENTAL_CHECKPOINTS =
            ConfigOptions.key("state.backend.incremental")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Checkpoints upload only the RocksDB files that are new since the"
                                    + " last confirmed checkpoint. (Flink's own backends default"
                                    + " to false.) With false, checkpoints are full snapshots in"
                                    + " the canonical format.");

    public static final ConfigOption<String> LOCAL_DIRECTORIES =
            ConfigOptions.key("state.backend.rocksdb.localdir")
                    .stringType()
                    .noDefaultValue()
                    .withDeprecatedKeys("state.backend.rocksdb.checkpointdir")
                    .withDescription(
                            "Absolute local directories for the RocksDB instances, separated by"
                                    + " ',' or the platform path separator. Each instance picks"
                                    + " one of them. Without it, the TaskManager's temporary"
                                    + " directories (io.tmp.dirs).");

    public static final ConfigOption<PriorityQueueStateType> TIMER_SERVICE_FACTORY =
            ConfigOptions.key("state.backend.rocksdb.timer-service.factory")
                    .enumType(PriorityQueueStateType.class)
                    .defaultValue(PriorityQueueStateType.ROCKSDB)
                    .withDescription(
                            "Where timers live: ROCKSDB (in a column family, with an in-memory"
                                    + " cache per key group) or HEAP (on the JVM heap, written into"
                                    + " each checkpoint synchronously).");

    public static final ConfigOption<Integer> TIMER_SERVICE_CACHE_SIZE =
            ConfigOptions.key("state.backend.rocksdb.timer-service.cache-size")
                    .intType()
                    .defaultValue(128)
                    .withDescription(
                            "Timers per key group cached in memory in front of the RocksDB"
                                    + " timer queue. At least 1.");

    public static final ConfigOption<Boolean> USE_MANAGED_MEMORY =
            ConfigOptions.key("state.backend.rocksdb.memory.managed")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "The block cache and write buffers of all RocksDB instances of a slot"
                                    + " are sized from, and shared within, the slot's managed"
                                    + " memory.");

    public static final ConfigOption<MemorySize> FIX_PER_SLOT_MEMORY_SIZE =
            ConfigOptions.key("state.backend.rocksdb.memory.fixed-per-slot")
                    .memoryType()
                    .noDefaultValue()
                    .withDescription(
                            "A fixed amount of memory per slot shared by its RocksDB instances;"
                                    + " takes precedence over managed memory when set. Larger"
                                    + " than 0.");

    public static final ConfigOption<Double> WRITE_BUFFER_RATIO =
            ConfigOptions.key("state.backend.rocksdb.memory.write-buffer-ratio")
                    .doubleType()
                    .defaultValue(0.5)
                    .withDescription(
                            "Share of the slot's RocksDB memory that write buffers (memtables)"
                                    + " may take; they are charged to the block cache. Between 0"
                                    + " and 1.");

    public static final ConfigOption<Double> HIGH_PRIORITY_POOL_RATIO =
            ConfigOptions.key("state.backend.rocksdb.memory.high-prio-pool-ratio")
                    .doubleType()
                    .defaultValue(0.1)
                    .withDescription(
                            "Share of the block cache reserved for index and filter blocks."
                                    + " Between 0 and 1; together with the write buffer ratio at"
                                    + " most 1.");

    public static final ConfigOption<Integer> CHECKPOINT_TRANSFER_THREAD_NUM =
            ConfigOptions.key("state.backend.rocksdb.checkpoint.transfer.thread.num")
                    .intType()
                    .defaultValue(4)
                    .withDescription(
                            "Threads per backend that upload or download checkpoint files. At"
                                    + " least 1.");

    public static final ConfigOption<Integer> UPLOAD_RETRIES =
            ConfigOptions.key(OWN_PREFIX + "upload.retries")
                    .intType()
                    .defaultValue(3)
                    .withDescription(
                            "How often the upload of one checkpoint file is tried again after"
                                    + " its first attempt failed, each failed attempt's partial"
                                    + " file deleted first. The checkpoint fails only when a file"
                                    + " exhausts its attempts. Also applies to downloads unless "
                                    + OWN_PREFIX
                                    + "download.retries is set. At least 0.");

    public static final ConfigOption<Integer> DOWNLOAD_RETRIES =
            ConfigOptions.key(OWN_PREFIX + "download.retries")
                    .intType()
                    .noDefaultValue()
                    .withDescription(
                            "How often the download of one checkpoint file during restore is"
                                    + " tried again after its first attempt failed. Without it, "
                                    + OWN_PREFIX
                                    + "upload.retries. At least 0.");

    public static final ConfigOption<Duration> RETRY_INITIAL_BACKOFF =
            ConfigOptions.key(OWN_PREFIX + "transfer.retry.initial-backoff")
                    .durationType()
                    .defaultValue(Duration.ofMillis(100))
                    .withDescription(
                            "Wait before the first retry of an upload or download; it doubles with"
                                    + " every further retry up to the maximum backoff, and a"
                                    + " random part of up to half of it is taken off (jitter).");

    public static final ConfigOption<Duration> RETRY_MAX_BACKOFF =
            ConfigOptions.key(OWN_PREFIX + "transfer.retry.max-backoff")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(5))
                    .withDescription(
                            "Longest wait between two attempts of an upload or download. At least"
                                    + " the initial backoff.");

    public static final ConfigOption<MemorySize> WRITE_BATCH_SIZE =
            ConfigOptions.key("state.backend.rocksdb.write-batch-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("2mb"))
                    .withDescription(
                            "Bytes buffered in a write batch during restore and bulk writes before"
                                    + " it is flushed; 0 disables the size limit.");

    public static final ConfigOption<MemorySize> MAX_MANIFEST_FILE_SIZE =
            ConfigOptions.key(OWN_PREFIX + "max-manifest-file-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("4mb"))
                    .withDescription(
                            "Size at which RocksDB rolls over to a new MANIFEST file. The MANIFEST"
                                    + " is uploaded with every checkpoint, so it is kept small. At"
                                    + " least 64kb.");

    public static final ConfigOption<Boolean> TTL_BACKGROUND_CLEANUP =
            ConfigOptions.key(OWN_PREFIX + "ttl.background-cleanup")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether states whose TTL config asks for background cleanup (Flink's"
                                    + " default, and cleanupInRocksdbCompactFilter) have expired"
                                    + " entries deleted by a bounded scan on the task thread, a"
                                    + " few entries per record. Upstream RocksDB has no TTL"
                                    + " compaction filter. When false, expired entries go only"
                                    + " when read, by incremental cleanup if configured, and from"
                                    + " full snapshots.");

    /** This backend's key: uploading new SST files before the checkpoint that needs them. */
    public static final ConfigOption<Boolean> CHECKPOINT_UPLOAD_AHEAD =
            ConfigOptions.key(OWN_PREFIX + "checkpoint.upload-ahead")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether SST and blob files that RocksDB writes between checkpoints"
                                    + " (compaction outputs, flushes of full write buffers, blob"
                                    + " garbage collection) are uploaded to the"
                                    + " shared state of checkpoint storage by one background thread"
                                    + " as soon as they are written, so that the next checkpoint"
                                    + " finds them uploaded instead of uploading a compaction's"
                                    + " output within its own duration. An upload whose file is"
                                    + " compacted away before a checkpoint refers to it is deleted"
                                    + " again. Only for checkpoint storage on a file system"
                                    + " without file merging; it starts after the first checkpoint.");

    /** This backend's key: RocksDB's block checksums of an SST file checked before its upload. */
    public static final ConfigOption<Boolean> CHECKPOINT_VERIFY_SST_FILES =
            ConfigOptions.key(OWN_PREFIX + "checkpoint.verify-sst-files")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether the block checksums of every SST file, and the record"
                                    + " checksums of every blob file, are verified before"
                                    + " the file is uploaded (by a checkpoint, a native savepoint"
                                    + " or an upload ahead). A file damaged on the local disk"
                                    + " after RocksDB wrote it then fails the checkpoint, and the"
                                    + " last completed checkpoint stays the one to restore."
                                    + " Without it, the upload's own checksum covers the damaged"
                                    + " bytes, the checkpoint completes, and only restoring it"
                                    + " fails. Costs one read of each new file, usually from"
                                    + " the page cache.");

    /** This backend's key: compaction defaults chosen for the cost of incremental checkpoints. */
    public static final ConfigOption<Boolean> COMPACTION_TUNED_FOR_INCREMENTAL_CHECKPOINTS =
            ConfigOptions.key(OWN_PREFIX + "compaction.tuned-for-incremental-checkpoints")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether RocksDB's compaction is set up so that an incremental"
                                    + " checkpoint uploads bytes in proportion to what changed"
                                    + " since the last one, without the periodic rewrites of the"
                                    + " whole state that Flink's defaults cause (dynamic level"
                                    + " sizes, small base level and files; see"
                                    + " docs/checkpoint-cost.md). Applies only where the user chose"
                                    + " nothing: it is ignored for every compaction key"
                                    + " (state.backend.rocksdb.compaction.*) that is configured or"
                                    + " set by the predefined options, and entirely when an"
                                    + " options factory is configured. Off by default: it lowers"
                                    + " the bytes per checkpoint on small states, but on a 1 GB"
                                    + " state it cost more uploads while the levels were rebuilt"
                                    + " and slower reads. false keeps Flink's compaction"
                                    + " defaults.");

    /** This backend's key: values kept in blob files apart from the keys. */
    public static final ConfigOption<Boolean> BLOB_FILES_ENABLED =
            ConfigOptions.key(OWN_PREFIX + "blob-files.enabled")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether RocksDB writes values of at least "
                                    + OWN_PREFIX
                                    + "blob-files.min-value-size into blob files, apart from the"
                                    + " keys (RocksDB's integrated BlobDB). A blob file is written"
                                    + " once, by a flush, and compactions then rewrite only the keys"
                                    + " and references to the values, so an incremental checkpoint"
                                    + " uploads a new value about once instead of with every"
                                    + " compaction that rewrites its key. Costs a second read per"
                                    + " point read of a large value and space for overwritten"
                                    + " values until garbage collection relocates the live ones"
                                    + " (see docs/checkpoint-cost.md). Values in blob files are"
                                    + " compressed as the last level of"
                                    + " state.backend.rocksdb.compression.per.level. Applies to"
                                    + " values written"
                                    + " from then on; values already in blob files stay readable"
                                    + " when it is switched off.");

    /** This backend's key: the smallest value that goes into a blob file. */
    public static final ConfigOption<MemorySize> BLOB_FILES_MIN_VALUE_SIZE =
            ConfigOptions.key(OWN_PREFIX + "blob-files.min-value-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("64b"))
                    .withDescription(
                            "Values smaller than this stay in the SST files when blob files are"
                                    + " enabled; a reference to a blob costs about as much as a"
                                    + " value of a dozen bytes.");

    /** This backend's key: the size at which a blob file is closed. */
    public static final ConfigOption<MemorySize> BLOB_FILES_FILE_SIZE =
            ConfigOptions.key(OWN_PREFIX + "blob-files.file-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("4mb"))
                    .withDescription(
                            "Size at which a blob file is closed and the next one begun. Garbage"
                                    + " collection relocates the live values of whole files, so"
                                    + " smaller files spread it over more checkpoints.");

    /** This backend's key: which blob files garbage collection relocates. */
    public static final ConfigOption<Double> BLOB_FILES_GC_AGE_CUTOFF =
            ConfigOptions.key(OWN_PREFIX + "blob-files.garbage-collection.age-cutoff")
                    .doubleType()
                    .defaultValue(0.05)
                    .withDescription(
                            "The fraction of the oldest blob files whose live values a compaction"
                                    + " relocates into new blob files, so that the old files,"
                                    + " which hold overwritten values as well, can be deleted."
                                    + " Higher values keep less garbage and upload more bytes"
                                    + " per checkpoint; 0 turns garbage collection off, and"
                                    + " then a blob file goes only when all its values are"
                                    + " overwritten or deleted.");

    /** This backend's key: a hash index in each data block, for point reads. */
    public static final ConfigOption<Boolean> DATA_BLOCK_HASH_INDEX =
            ConfigOptions.key(OWN_PREFIX + "block.data-block-hash-index")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether the SST files this backend writes carry a hash index in"
                                    + " each data block (RocksDB's kDataBlockBinaryAndHash), so"
                                    + " that a point read (value state, map state get and"
                                    + " contains) finds its key in the block without a binary"
                                    + " search. Costs a few bytes per key in the data blocks;"
                                    + " iterators do not use it. Applies to files written from"
                                    + " then on, and not when an options factory sets its own"
                                    + " table format. Flink's backend does not set it.");

    /** This backend's key: read every byte of a local copy, not only its sizes. */
    public static final ConfigOption<Boolean> LOCAL_RECOVERY_VERIFY_CHECKSUMS =
            ConfigOptions.key("state.backend.incremental-rocksdb.local-recovery.verify-checksums")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether restoring from a local copy (local recovery) computes the"
                                    + " CRC32C of every hard-linked SST file. Sizes are always"
                                    + " checked; downloads are always fully verified.");

    private IncrementalRocksDBOptions() {}
}
