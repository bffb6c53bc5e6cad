package io.statebackend.incremental.snapshot;

import org.apache.flink.runtime.state.StateSnapshotTransformer;
import org.apache.flink.util.FlinkRuntimeException;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

import javax.annotation.Nullable;

/** The entries of one column family, optionally filtered by a snapshot transformer (TTL). */
final class RocksDBStateIterator implements SingleStateIterator {

    private final RocksIterator iterator;
    private final int kvStateId;
    private final int keyGroupPrefixBytes;
    @Nullable private final StateSnapshotTransformer<byte[]> transformer;

    private byte[] key;
    private byte[] value;

    RocksDBStateIterator(
            RocksIterator iterator,
            int kvStateId,
            int keyGroupPrefixBytes,
            @Nullable StateSnapshotTransformer<byte[]> transformer) {
        this.iterator = iterator;
        this.kvStateId = kvStateId;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.transformer = transformer;
        iterator.seekToFirst();
        load();
    }

    private void load() {
        while (iterator.isValid()) {
            byte[] rawValue = iterator.value();
            byte[] transformed =
                    transformer == null ? rawValue : transformer.filterOrTransform(rawValue);
            if (transformed != null) {
                key = iterator.key();
                value = transformed;
                return;
            }
            iterator.next();
        }
        try {
            iterator.status();
        } catch (RocksDBException e) {
            throw new FlinkRuntimeException("Could not read RocksDB for a snapshot", e);
        }
        key = null;
        value = null;
    }

    @Override
    public boolean isValid() {
        return key != null;
    }

    @Override
    public void next() {
        iterator.next();
        load();
    }

    @Override
    public byte[] key() {
        return key;
    }

    @Override
    public byte[] value() {
        return value;
    }

    @Override
    public int keyGroup() {
        return SingleStateIterator.keyGroupOf(key, keyGroupPrefixBytes);
    }

    @Override
    public int kvStateId() {
        return kvStateId;
    }

    @Override
    public void close() {
        iterator.close();
    }
}
