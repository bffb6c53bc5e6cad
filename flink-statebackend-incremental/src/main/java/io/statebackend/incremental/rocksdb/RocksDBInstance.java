package io.statebackend.incremental.rocksdb;

import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;

import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.MutableColumnFamilyOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.StringAppendOperator;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;
import javax.annotation.concurrent.GuardedBy;

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
 *
 * <p>With memory resources shared by the slot, the resources size the write buffers of all column
 * families of all their instances, and may resize them from another instance's thread (see {@link
 * RocksDBMemoryResources}); the column family handles and the database are therefore guarded by
 * this object's lock, which is never held while calling into the resources.
 */
public final class RocksDBInstance
        implements AutoCloseable, RocksDBMemoryResources.WriteBufferUser {

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
    @Nullable private final RocksDBMemoryResources memory;
    private final List<ColumnFamilyOptions> columnFamilyOptions = new ArrayList<>();

    @GuardedBy("this")
    private final List<ColumnFamilyHandle> columnFamilyHandles = new ArrayList<>();

    /** The write buffer size of every column family, as the memory resources last said. */
    @GuardedBy("this")
    private long writeBufferSize;

    /** Column families other than the default one, which holds no state. */
    @GuardedBy("this")
    private int stateColumnFamilies;

    @GuardedBy("this")
    private RocksDB db;

    private ColumnFamilyHandle defaultColumnFamily;

    @GuardedBy("this")
    private boolean closed;

    static {
        RocksDB.loadLibrary();
    }

    private RocksDBInstance(
            File path, @Nullable RocksDBMemoryResources memory, long maxManifestFileSize) {
        this.path = path;
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
        this.memory = memory;
        if (memory != null) {
            dbOptions.setWriteBufferManager(memory.getWriteBufferManager());
            tableConfig
                    .setBlockCache(memory.getCache())
                    .setCacheIndexAndFilterBlocks(true)
                    .setCacheIndexAndFilterBlocksWithHighPriority(true)
                    .setPinTopLevelIndexAndFilter(true);
            this.writeBufferSize = memory.getWriteBufferSize();
        } else {
            this.writeBufferSize = 64L << 20;
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
        RocksDBInstance instance = new RocksDBInstance(path, memory, maxManifestFileSize);
        try {
            // sizes the write buffers for the column families about to be opened
            instance.updateColumnFamilyCount(columnFamilyNames.size());
            synchronized (instance) {
                instance.openDatabase(columnFamilyNames, handlesOut);
            }
            OPEN_INSTANCES.incrementAndGet();
            return instance;
        } catch (Throwable t) {
            instance.updateColumnFamilyCount(0);
            synchronized (instance) {
                instance.closeNativeObjects();
            }
            throw new IOException("Could not open RocksDB at " + path + ": " + t.getMessage(), t);
        }
    }

    /** Tells the memory resources how many column families hold state; they may resize all. */
    private void updateColumnFamilyCount(int count) {
        if (memory != null) {
            memory.setColumnFamilies(this, count);
        }
    }

    @Override
    public synchronized void resizeWriteBuffers(long size) {
        writeBufferSize = size;
        if (closed || db == null) {
            return;
        }
        final MutableColumnFamilyOptions options =
                MutableColumnFamilyOptions.builder()
                        .setWriteBufferSize(size)
                        .setArenaBlockSize(arenaBlockSizeFor(size))
                        .build();
        try {
            for (ColumnFamilyHandle handle : columnFamilyHandles) {
                db.setOptions(handle, options);
            }
        } catch (RocksDBException e) {
            // the old size stays in force: memory may exceed the budget, nothing else breaks
            LOG.warn(
                    "Could not resize the write buffers of RocksDB at {} to {} bytes.",
                    path,
                    size,
                    e);
        }
    }

    /**
     * An eighth of the write buffer, in 4 KiB steps, as RocksDB derives it by default; set
     * explicitly because RocksDB derives it only once, when the column family is opened.
     */
    static long arenaBlockSizeFor(long writeBufferSize) {
        final long align = 4L << 10;
        return Math.max(align, (writeBufferSize / 8 + align - 1) / align * align);
    }

    @GuardedBy("this")
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
        stateColumnFamilies = columnFamilyNames.size();
        defaultColumnFamily = handles.get(0);
        handlesOut.addAll(handles.subList(1, handles.size()));
    }

    @GuardedBy("this")
    private ColumnFamilyOptions newColumnFamilyOptions() {
        ColumnFamilyOptions options =
                new ColumnFamilyOptions()
                        .setMergeOperator(mergeOperator)
                        .setTableFormatConfig(tableConfig)
                        .setWriteBufferSize(writeBufferSize)
                        .setMaxWriteBufferNumber(RocksDBMemoryResources.MAX_WRITE_BUFFER_NUMBER);
        if (memory != null) {
            options.setArenaBlockSize(arenaBlockSizeFor(writeBufferSize));
        }
        columnFamilyOptions.add(options);
        return options;
    }

    /** Creates a column family; the handle is closed with this instance. */
    public ColumnFamilyHandle createColumnFamily(String name) throws IOException {
        final int count;
        synchronized (this) {
            checkOpen();
            count = stateColumnFamilies + 1;
        }
        // resizes the existing column families first, so that all fit with the new one
        updateColumnFamilyCount(count);
        boolean created = false;
        try {
            synchronized (this) {
                checkOpen();
                ColumnFamilyHandle handle =
                        db.createColumnFamily(
                                new ColumnFamilyDescriptor(
                                        name.getBytes(StandardCharsets.UTF_8),
                                        newColumnFamilyOptions()));
                columnFamilyHandles.add(handle);
                stateColumnFamilies++;
                created = true;
                return handle;
            }
        } catch (RocksDBException e) {
            throw new IOException("Could not create column family '" + name + "' in " + path, e);
        } finally {
            if (!created) {
                final int actual;
                synchronized (this) {
                    actual = closed ? 0 : stateColumnFamilies;
                }
                updateColumnFamilyCount(actual);
            }
        }
    }

    /** Drops a column family of this instance and closes its handle. */
    public void dropColumnFamily(ColumnFamilyHandle handle) throws IOException {
        final int count;
        synchronized (this) {
            checkOpen();
            try {
                db.dropColumnFamily(handle);
            } catch (RocksDBException e) {
                throw new IOException("Could not drop a column family in " + path, e);
            }
            columnFamilyHandles.remove(handle);
            handle.close();
            count = --stateColumnFamilies;
        }
        updateColumnFamilyCount(count);
    }

    public synchronized RocksDB getDb() {
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

    @GuardedBy("this")
    private void checkOpen() {
        Preconditions.checkState(!closed, "RocksDB instance at %s is closed.", path);
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            // from now on a resize from another instance's thread leaves the database alone
            closed = true;
        }
        updateColumnFamilyCount(0);
        OPEN_INSTANCES.decrementAndGet();
        synchronized (this) {
            closeNativeObjects();
        }
    }

    /** Closes in dependency order: handles, database, then the options they were made with. */
    @GuardedBy("this")
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
