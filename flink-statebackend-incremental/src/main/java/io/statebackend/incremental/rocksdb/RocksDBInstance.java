package io.statebackend.incremental.rocksdb;

import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;

import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.ExportImportFilesMetaData;
import org.rocksdb.ImportColumnFamilyOptions;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.StringAppendOperator;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One open RocksDB database with every native object it depends on, closed together and in order:
 * column family handles, the database, then the options the handles were created with.
 *
 * <p>Instances are created by {@link #open} only; a failure while opening closes what was already
 * created.
 */
public final class RocksDBInstance implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RocksDBInstance.class);

    /**
     * The byte Flink's list encoding puts between elements ({@code ListDelimitedSerializer}); the
     * merge operator appends with the same delimiter so that merged values read as lists.
     */
    public static final char LIST_DELIMITER = ',';

    /** Live instances in this JVM, so tests can prove that none leak. */
    private static final AtomicInteger OPEN_INSTANCES = new AtomicInteger();

    private final File path;
    private final DBOptions dbOptions;
    private final StringAppendOperator mergeOperator;
    private final ReadOptions readOptions;
    private final WriteOptions writeOptions;
    private final BlockBasedTableConfig tableConfig;
    private final long writeBufferSizeHint;
    private final boolean autoCompactions;
    private final List<ColumnFamilyOptions> columnFamilyOptions = new ArrayList<>();
    private final List<ColumnFamilyHandle> columnFamilyHandles = new ArrayList<>();

    private RocksDB db;
    private ColumnFamilyHandle defaultColumnFamily;
    private boolean closed;
    @Nullable private BackgroundCompaction backgroundCompaction;

    static {
        RocksDB.loadLibrary();
    }

    private RocksDBInstance(
            File path,
            @Nullable RocksDBMemoryResources memory,
            long maxManifestFileSize,
            boolean autoCompactions) {
        this.path = path;
        this.autoCompactions = autoCompactions;
        this.dbOptions =
                new DBOptions()
                        .setCreateIfMissing(true)
                        .setCreateMissingColumnFamilies(true)
                        .setUseFsync(false)
                        .setAvoidFlushDuringShutdown(true)
                        .setStatsDumpPeriodSec(0)
                        .setInfoLogLevel(InfoLogLevel.HEADER_LEVEL)
                        .setMaxLogFileSize(16L << 20)
                        .setKeepLogFileNum(2)
                        // the MANIFEST is part of every incremental checkpoint
                        .setMaxManifestFileSize(maxManifestFileSize);
        this.mergeOperator = new StringAppendOperator(LIST_DELIMITER);
        // iterators must see every key, whatever prefix extractor a column family has
        this.readOptions = new ReadOptions().setTotalOrderSeek(true);
        // durability comes from checkpoints; the write-ahead log would only cost
        this.writeOptions = new WriteOptions().setDisableWAL(true);
        this.tableConfig = new BlockBasedTableConfig();
        if (memory != null) {
            dbOptions.setWriteBufferManager(memory.getWriteBufferManager());
            tableConfig
                    .setBlockCache(memory.getCache())
                    .setCacheIndexAndFilterBlocks(true)
                    .setCacheIndexAndFilterBlocksWithHighPriority(true)
                    .setPinTopLevelIndexAndFilter(true);
            // small memtables when little memory is given, so a flush frees memory early
            this.writeBufferSizeHint =
                    Math.max(1L << 20, Math.min(64L << 20, memory.getCapacity() / 8));
        } else {
            this.writeBufferSizeHint = 64L << 20;
        }
    }

    /**
     * Opens (or creates) the database at {@code path} with the given non-default column families.
     * The returned handles are in the order of {@code columnFamilyNames}.
     */
    public static RocksDBInstance open(
            File path,
            @Nullable RocksDBMemoryResources memory,
            long maxManifestFileSize,
            List<byte[]> columnFamilyNames,
            List<ColumnFamilyHandle> handlesOut)
            throws IOException {
        return open(path, memory, maxManifestFileSize, columnFamilyNames, handlesOut, true);
    }

    /**
     * Opens the database at {@code path}; without automatic compactions for a temporary database
     * whose files are exported, so that no compaction replaces a file while it is linked out.
     */
    public static RocksDBInstance open(
            File path,
            @Nullable RocksDBMemoryResources memory,
            long maxManifestFileSize,
            List<byte[]> columnFamilyNames,
            List<ColumnFamilyHandle> handlesOut,
            boolean autoCompactions)
            throws IOException {
        RocksDBInstance instance =
                new RocksDBInstance(path, memory, maxManifestFileSize, autoCompactions);
        try {
            instance.openDatabase(columnFamilyNames, handlesOut);
            OPEN_INSTANCES.incrementAndGet();
            return instance;
        } catch (Throwable t) {
            instance.closeNativeObjects();
            throw new IOException("Could not open RocksDB at " + path + ": " + t.getMessage(), t);
        }
    }

    private void openDatabase(List<byte[]> columnFamilyNames, List<ColumnFamilyHandle> handlesOut)
            throws IOException, RocksDBException {
        if (!path.isDirectory() && !path.mkdirs()) {
            throw new IOException("Could not create the RocksDB directory " + path);
        }
        List<ColumnFamilyDescriptor> descriptors = new ArrayList<>(columnFamilyNames.size() + 1);
        descriptors.add(
                new ColumnFamilyDescriptor(
                        RocksDB.DEFAULT_COLUMN_FAMILY, newColumnFamilyOptions()));
        for (byte[] name : columnFamilyNames) {
            descriptors.add(new ColumnFamilyDescriptor(name, newColumnFamilyOptions()));
        }
        List<ColumnFamilyHandle> handles = new ArrayList<>(descriptors.size());
        db = RocksDB.open(dbOptions, path.getAbsolutePath(), descriptors, handles);
        columnFamilyHandles.addAll(handles);
        defaultColumnFamily = handles.get(0);
        handlesOut.addAll(handles.subList(1, handles.size()));
    }

    private ColumnFamilyOptions newColumnFamilyOptions() {
        ColumnFamilyOptions options =
                new ColumnFamilyOptions()
                        .setMergeOperator(mergeOperator)
                        .setTableFormatConfig(tableConfig)
                        .setWriteBufferSize(writeBufferSizeHint)
                        .setDisableAutoCompactions(!autoCompactions);
        columnFamilyOptions.add(options);
        return options;
    }

    /** Creates a column family; the handle is closed with this instance. */
    public ColumnFamilyHandle createColumnFamily(String name) throws IOException {
        checkOpen();
        try {
            ColumnFamilyHandle handle =
                    db.createColumnFamily(
                            new ColumnFamilyDescriptor(
                                    name.getBytes(StandardCharsets.UTF_8),
                                    newColumnFamilyOptions()));
            columnFamilyHandles.add(handle);
            return handle;
        } catch (RocksDBException e) {
            throw new IOException("Could not create column family '" + name + "' in " + path, e);
        }
    }

    /**
     * Creates a column family from files exported from other databases; their key ranges must not
     * overlap. The files are moved (hard-linked where possible), not rewritten.
     */
    public ColumnFamilyHandle importColumnFamily(
            String name, List<ExportImportFilesMetaData> exported) throws IOException {
        checkOpen();
        try (ImportColumnFamilyOptions importOptions =
                new ImportColumnFamilyOptions().setMoveFiles(true)) {
            ColumnFamilyHandle handle =
                    db.createColumnFamilyWithImport(
                            new ColumnFamilyDescriptor(
                                    name.getBytes(StandardCharsets.UTF_8),
                                    newColumnFamilyOptions()),
                            importOptions,
                            exported);
            columnFamilyHandles.add(handle);
            return handle;
        } catch (RocksDBException e) {
            throw new IOException("Could not import column family '" + name + "' into " + path, e);
        }
    }

    /**
     * Clips {@code toClip} and then compacts {@code toCompact} to {@code [begin, end)} on a thread
     * of its own; the task never waits for it. Closing the instance stops it first.
     */
    public void startBackgroundClipAndCompaction(
            List<ColumnFamilyHandle> toClip,
            List<ColumnFamilyHandle> toCompact,
            byte[] begin,
            byte[] end) {
        checkOpen();
        Preconditions.checkState(
                backgroundCompaction == null, "Background work on %s runs already.", path);
        backgroundCompaction = BackgroundCompaction.start(db, toClip, toCompact, begin, end, path);
    }

    /**
     * Waits for the work started by {@link #startBackgroundClipAndCompaction}, if any; for tests
     * and benchmarks that measure what the first checkpoint after rescaling uploads.
     */
    public void awaitBackgroundWork() throws InterruptedException {
        if (backgroundCompaction != null) {
            backgroundCompaction.await();
        }
    }

    /** Drops a column family of this instance and closes its handle. */
    public void dropColumnFamily(ColumnFamilyHandle handle) throws IOException {
        checkOpen();
        try {
            db.dropColumnFamily(handle);
        } catch (RocksDBException e) {
            throw new IOException("Could not drop a column family in " + path, e);
        }
        columnFamilyHandles.remove(handle);
        handle.close();
    }

    public RocksDB getDb() {
        checkOpen();
        return db;
    }

    public ColumnFamilyHandle getDefaultColumnFamily() {
        return defaultColumnFamily;
    }

    public ReadOptions getReadOptions() {
        return readOptions;
    }

    public WriteOptions getWriteOptions() {
        return writeOptions;
    }

    public File getPath() {
        return path;
    }

    /** Number of {@link RocksDBInstance}s open in this JVM. */
    public static int openInstances() {
        return OPEN_INSTANCES.get();
    }

    private void checkOpen() {
        Preconditions.checkState(!closed, "RocksDB instance at %s is closed.", path);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        OPEN_INSTANCES.decrementAndGet();
        if (backgroundCompaction != null) {
            // no compaction may run on a handle that is closed below
            backgroundCompaction.stop();
            backgroundCompaction = null;
        }
        closeNativeObjects();
    }

    /** Closes in dependency order: handles, database, then the options they were made with. */
    private void closeNativeObjects() {
        for (ColumnFamilyHandle handle : columnFamilyHandles) {
            IOUtils.closeQuietly(handle);
        }
        columnFamilyHandles.clear();
        if (db != null) {
            try {
                // waits for background flushes and compactions of this instance
                db.closeE();
            } catch (RocksDBException e) {
                LOG.warn("Error while closing RocksDB at {}.", path, e);
            }
            db = null;
        }
        for (ColumnFamilyOptions options : columnFamilyOptions) {
            IOUtils.closeQuietly(options);
        }
        columnFamilyOptions.clear();
        IOUtils.closeQuietly(readOptions);
        IOUtils.closeQuietly(writeOptions);
        IOUtils.closeQuietly(mergeOperator);
        IOUtils.closeQuietly(dbOptions);
    }

    /** Closes the instance and deletes its directory. */
    public void closeAndDelete() {
        close();
        try {
            FileUtils.deleteDirectory(path);
        } catch (IOException e) {
            LOG.warn("Could not delete RocksDB directory {}.", path, e);
        }
    }

    /** Names of column families to open, for a database restored from files. */
    public static List<byte[]> names(List<String> names) {
        List<byte[]> result = new ArrayList<>(names.size());
        for (String name : names) {
            result.add(name.getBytes(StandardCharsets.UTF_8));
        }
        return Collections.unmodifiableList(result);
    }
}
