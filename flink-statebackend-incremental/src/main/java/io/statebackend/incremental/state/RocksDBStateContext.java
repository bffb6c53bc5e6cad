package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;

import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteOptions;

/** What a state object needs from the keyed backend that owns it. */
public interface RocksDBStateContext<K> {

    RocksDB getDb();

    ReadOptions getReadOptions();

    /** Iterators bounded to a key prefix, for the task thread's reads of one map. */
    PrefixIterators getPrefixIterators();

    WriteOptions getWriteOptions();

    /** The builder that already holds the current key and key-group; shared by all states. */
    StateKeyBuilder<K> getSharedKeyBuilder();

    TypeSerializer<K> getKeySerializer();

    int getKeyGroupPrefixBytes();

    int getNumberOfKeyGroups();

    K getCurrentKey();

    /** The column family for the state with the given name; changes only on state re-creation. */
    org.rocksdb.ColumnFamilyHandle getColumnFamily(String stateName);
}
