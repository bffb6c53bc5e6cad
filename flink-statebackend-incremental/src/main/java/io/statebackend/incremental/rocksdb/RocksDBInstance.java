package io.statebackend.incremental.rocksdb;

import io.statebackend.incremental.rocksdb.options.ConfiguredRocksDBOptions;
import io.statebackend.incremental.rocksdb.options.RocksDBOptionsContainer;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.IOUtils;
import org.apache.flink.util.Preconditions;

import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.ExportImportFilesMetaData;
import org.rocksdb.ImportColumnFamilyOptions;
import org.rocksdb.MutableColumnFamilyOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.Statistics;
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

    /**
     * RocksDB's full-merge string append operator (the one Flink's FRocksDB uses): a read of n
     * unmerged appends joins them once, where the pairwise {@code StringAppendOperator} copies the
     * growing value n times. Its delimiter is {@link #LIST_DELIMITER}. RocksDB does not check the
     * merge operator name of an existing database, so databases written with the pairwise operator
     * open and read the same.
     */
    public static final String LIST_MERGE_OPERATOR = "stringappendtest";

    /** Live instances in this JVM, so tests can prove that none leak. */
    private static final AtomicInteger OPEN_INSTANCES = new AtomicInteger();

    private final File path;

    /** Builds and owns the DB, column family, read and write options. */
    private final RocksDBOptionsContainer options;

    private final DBOptions dbOptions;
    private final ReadOptions readOptions;
    private final WriteOptions writeOptions;

    /** RocksDB statistics, collected only when a native metric reports a ticker. */
    @Nullable private final Statistics statistics;

    /** False for a temporary database whose files are exported. */
    private final boolean autoCompactions;

    /**
     * The slot's memory, if bounded. Unless the configuration sizes the write buffers, they are
     * sized from the number of column families sharing that memory and resized when it changes.
     */
    @Nullable private final RocksDBMemoryResources memory;

    private final boolean writeBuffersSizedFromMemory;

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

    @Nullable private BackgroundCompaction backgroundCompaction;

    static {
        RocksDB.loadLibrary();
    }

    private RocksDBInstance(
            File path,
            RocksDBOptionsContainer options,
            boolean withStatistics,
            boolean autoCompactions) {
        this.path = path;
        this.options = options;
        this.autoCompactions = autoCompactions;
        this.memory = options.getMemory();
        this.writeBuffersSizedFromMemory = options.sizesWriteBuffersFromMemory();
        this.writeBufferSize = memory != null ? memory.getWriteBufferSize() : 0L;
        this.dbOptions = options.createDBOptions();
        this.readOptions = options.createReadOptions();
        this.writeOptions = options.createWriteOptions();
        // last: nothing after it can fail and leave it unclosed
        this.statistics = withStatistics ? new Statistics() : null;
        if (statistics != null) {
            dbOptions.setStatistics(statistics);
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
     * Opens the database at {@code path} with default options; without automatic compactions for a
     * temporary database whose files are exported, so that no compaction replaces a file while it
     * is linked out.
     */
    public static RocksDBInstance open(
            File path,
            @Nullable RocksDBMemoryResources memory,
            long maxManifestFileSize,
            List<byte[]> columnFamilyNames,
            List<ColumnFamilyHandle> handlesOut,
            boolean autoCompactions)
            throws IOException {
        return open(
                path,
                new RocksDBOptionsContainer(
                        ConfiguredRocksDBOptions.fromConfig(new Configuration()),
                        null,
                        memory,
                        maxManifestFileSize,
                        path),
                columnFamilyNames,
                handlesOut,
                false,
                autoCompactions);
    }

    /**
     * Opens (or creates) the database at {@code path} with the options the container builds; the
     * instance owns the container and closes it after the database.
     */
    public static RocksDBInstance open(
            File path,
            RocksDBOptionsContainer options,
            List<byte[]> columnFamilyNames,
            List<ColumnFamilyHandle> handlesOut)
            throws IOException {
        return open(path, options, columnFamilyNames, handlesOut, false, true);
    }

    /** Opens (or creates) the database, collecting RocksDB statistics if {@code withStatistics}. */
    public static RocksDBInstance open(
            File path,
            RocksDBOptionsContainer options,
            List<byte[]> columnFamilyNames,
            List<ColumnFamilyHandle> handlesOut,
            boolean withStatistics)
            throws IOException {
        return open(path, options, columnFamilyNames, handlesOut, withStatistics, true);
    }

    /**
     * Opens (or creates) the database at {@code path} with the options the container builds,
     * collecting RocksDB statistics if {@code withStatistics}, and without automatic compactions
     * unless {@code autoCompactions} (a temporary database whose files are exported must keep
     * them); the instance owns the container and closes it after the database.
     */
    public static RocksDBInstance open(
            File path,
            RocksDBOptionsContainer options,
            List<byte[]> columnFamilyNames,
            List<ColumnFamilyHandle> handlesOut,
            boolean withStatistics,
            boolean autoCompactions)
            throws IOException {
        final RocksDBInstance instance;
        try {
            instance = new RocksDBInstance(path, options, withStatistics, autoCompactions);
        } catch (Throwable t) {
            options.close();
            throw new IOException(
                    "Could not create the options of RocksDB at " + path + ": " + t.getMessage(),
                    t);
        }
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
        if (closed || db == null || !writeBuffersSizedFromMemory) {
            return;
        }
        final MutableColumnFamilyOptions resized =
                MutableColumnFamilyOptions.builder()
                        .setWriteBufferSize(size)
                        .setArenaBlockSize(arenaBlockSizeFor(size))
                        .build();
        try {
            for (ColumnFamilyHandle handle : columnFamilyHandles) {
                db.setOptions(handle, resized);
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
                        RocksDB.DEFAULT_COLUMN_FAMILY,
                        newColumnFamilyOptions(
                                new String(
                                        RocksDB.DEFAULT_COLUMN_FAMILY, StandardCharsets.UTF_8))));
        for (byte[] name : columnFamilyNames) {
            descriptors.add(
                    new ColumnFamilyDescriptor(
                            name,
                            newColumnFamilyOptions(new String(name, StandardCharsets.UTF_8))));
        }
        List<ColumnFamilyHandle> handles = new ArrayList<>(descriptors.size());
        db = RocksDB.open(dbOptions, path.getAbsolutePath(), descriptors, handles);
        columnFamilyHandles.addAll(handles);
        stateColumnFamilies = columnFamilyNames.size();
        defaultColumnFamily = handles.get(0);
        handlesOut.addAll(handles.subList(1, handles.size()));
    }

    @GuardedBy("this")
    private ColumnFamilyOptions newColumnFamilyOptions(String name) {
        // the list state needs this merge operator, whatever an options factory set
        ColumnFamilyOptions columnOptions =
                options.createColumnOptions(name)
                        .setMergeOperatorName(LIST_MERGE_OPERATOR)
                        .setDisableAutoCompactions(!autoCompactions);
        if (writeBuffersSizedFromMemory) {
            columnOptions
                    .setWriteBufferSize(writeBufferSize)
                    .setArenaBlockSize(arenaBlockSizeFor(writeBufferSize));
        }
        return columnOptions;
    }

    /** Creates a column family; the handle is closed with this instance. */
    public ColumnFamilyHandle createColumnFamily(String name) throws IOException {
        return addColumnFamily(name, "create", descriptor -> db.createColumnFamily(descriptor));
    }

    /**
     * Creates a column family from files exported from other databases; their key ranges must not
     * overlap. The files are moved (hard-linked where possible), not rewritten.
     */
    public ColumnFamilyHandle importColumnFamily(
            String name, List<ExportImportFilesMetaData> exported) throws IOException {
        try (ImportColumnFamilyOptions importOptions =
                new ImportColumnFamilyOptions().setMoveFiles(true)) {
            return addColumnFamily(
                    name,
                    "import",
                    descriptor ->
                            db.createColumnFamilyWithImport(descriptor, importOptions, exported));
        }
    }

    /** How a new column family comes into the database. */
    @FunctionalInterface
    private interface ColumnFamilyFactory {
        ColumnFamilyHandle create(ColumnFamilyDescriptor descriptor) throws RocksDBException;
    }

    /**
     * Adds a column family, sizing the write buffers of all column families for one more first, so
     * that all fit with the new one; the handle is closed with this instance.
     */
    private ColumnFamilyHandle addColumnFamily(
            String name, String verb, ColumnFamilyFactory factory) throws IOException {
        final int count;
        synchronized (this) {
            checkOpen();
            count = stateColumnFamilies + 1;
        }
        updateColumnFamilyCount(count);
        boolean added = false;
        try {
            synchronized (this) {
                checkOpen();
                ColumnFamilyHandle handle =
                        factory.create(
                                new ColumnFamilyDescriptor(
                                        name.getBytes(StandardCharsets.UTF_8),
                                        newColumnFamilyOptions(name)));
                columnFamilyHandles.add(handle);
                stateColumnFamilies++;
                added = true;
                return handle;
            }
        } catch (RocksDBException e) {
            throw new IOException(
                    "Could not " + verb + " column family '" + name + "' in " + path, e);
        } finally {
            if (!added) {
                final int actual;
                synchronized (this) {
                    actual = closed ? 0 : stateColumnFamilies;
                }
                updateColumnFamilyCount(actual);
            }
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

    /** The statistics of this database, or null if it collects none. */
    @Nullable
    public Statistics getStatistics() {
        return statistics;
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
            if (backgroundCompaction != null) {
                // no compaction may run on a handle that is closed below
                backgroundCompaction.stop();
                backgroundCompaction = null;
            }
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
        // column family, DB, read and write options, filters, relocated logs
        IOUtils.closeQuietly(options);
        IOUtils.closeQuietly(statistics);
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
