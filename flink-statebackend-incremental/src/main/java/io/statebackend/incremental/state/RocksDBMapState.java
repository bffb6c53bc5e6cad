package io.statebackend.incremental.state;

import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.MapSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.queryablestate.client.state.serialization.KvStateSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.SerializedCompositeKeyBuilder;
import org.apache.flink.runtime.state.internal.InternalMapState;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.Preconditions;

import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * Map state: one RocksDB entry per user key, {@code [key-group][key][namespace][user key]}, whose
 * value is a null flag followed by the user value. Iteration reads in batches so that no native
 * iterator stays open while user code runs.
 */
public class RocksDBMapState<K, N, UK, UV> extends AbstractRocksDBState<K, N, Map<UK, UV>>
        implements InternalMapState<K, N, UK, UV> {

    private static final int ITERATION_BATCH_SIZE = 128;

    /** Entries and bytes a first batch starts with; it grows as entries need. */
    private static final int INITIAL_BATCH_ENTRIES = 16;

    private static final int INITIAL_BATCH_BYTES = 512;

    private TypeSerializer<UK> userKeySerializer;
    private TypeSerializer<UV> userValueSerializer;

    /** Reads RocksDB keys for the incremental visitor; task thread only. */
    private final DataInputDeserializer visitorKeyInput = new DataInputDeserializer();

    /** Reads user keys and values of iterated entries; task thread only. */
    private final DataInputDeserializer iterationInput = new DataInputDeserializer();

    public RocksDBMapState(
            RocksDBStateContext<K> backend,
            String stateName,
            TypeSerializer<N> namespaceSerializer,
            TypeSerializer<Map<UK, UV>> valueSerializer) {
        super(backend, stateName, namespaceSerializer, valueSerializer);
        setMapSerializer(valueSerializer);
    }

    @Override
    public void updateSerializers(
            TypeSerializer<N> namespaceSerializer, TypeSerializer<Map<UK, UV>> valueSerializer) {
        super.updateSerializers(namespaceSerializer, valueSerializer);
        setMapSerializer(valueSerializer);
    }

    private void setMapSerializer(TypeSerializer<Map<UK, UV>> valueSerializer) {
        MapSerializer<UK, UV> mapSerializer = (MapSerializer<UK, UV>) valueSerializer;
        this.userKeySerializer = mapSerializer.getKeySerializer();
        this.userValueSerializer = mapSerializer.getValueSerializer();
    }

    // ------------------------------------------------------------------------

    @Override
    public UV get(UK userKey) throws IOException {
        int keyLength = writeUserEntryKey(userKey);
        if (!readIntoValueInput(keyBuilder().buffer(), keyLength)) {
            return null;
        }
        return valueInput.readBoolean() ? null : userValueSerializer.deserialize(valueInput);
    }

    @Override
    public void put(UK userKey, UV userValue) throws IOException {
        writeUserValueToValueOutput(userValue, userValueSerializer, valueOutput);
        int keyLength = writeUserEntryKey(userKey);
        try {
            putValueOutput(keyBuilder().buffer(), 0, keyLength);
        } catch (RocksDBException e) {
            throw new IOException("Could not write to map state '" + stateName + "'", e);
        }
    }

    @Override
    public void putAll(Map<UK, UV> map) throws IOException {
        if (map == null || map.isEmpty()) {
            return;
        }
        try (WriteBatch batch = new WriteBatch()) {
            for (Map.Entry<UK, UV> entry : map.entrySet()) {
                batch.put(
                        columnFamily,
                        userEntryKey(entry.getKey()),
                        serializeUserValue(entry.getValue()));
            }
            backend.getDb().write(backend.getWriteOptions(), batch);
        } catch (RocksDBException e) {
            throw new IOException("Could not write to map state '" + stateName + "'", e);
        }
    }

    @Override
    public void remove(UK userKey) throws IOException {
        int keyLength = writeUserEntryKey(userKey);
        try {
            deleteKey(keyBuilder().buffer(), 0, keyLength);
        } catch (RocksDBException e) {
            throw new IOException("Could not remove from map state '" + stateName + "'", e);
        }
    }

    @Override
    public boolean contains(UK userKey) throws IOException {
        int keyLength = writeUserEntryKey(userKey);
        return containsKey(keyBuilder().buffer(), keyLength);
    }

    @Override
    public Iterable<Map.Entry<UK, UV>> entries() {
        return () -> new EntryIterator<>(currentKeyAndNamespace(), RawEntry::new);
    }

    @Override
    public Iterable<UK> keys() {
        return () -> new EntryIterator<>(currentKeyAndNamespace(), this::readUserKeyOf);
    }

    @Override
    public Iterable<UV> values() {
        return () ->
                new EntryIterator<>(
                        currentKeyAndNamespace(),
                        (batch, index, prefixLength) -> readUserValueOf(batch, index));
    }

    @Override
    public Iterator<Map.Entry<UK, UV>> iterator() {
        return new EntryIterator<>(currentKeyAndNamespace(), RawEntry::new);
    }

    @Override
    public boolean isEmpty() {
        byte[] prefix = currentKeyAndNamespace();
        try (RocksIterator iterator = newIterator(prefix)) {
            iterator.seek(prefix);
            if (iterator.isValid()) {
                return !startsWith(iterator.key(), prefix);
            }
            // invalid also when it met an unreadable block: that is not an empty map
            iterator.status();
            return true;
        } catch (RocksDBException e) {
            throw new FlinkRuntimeException("Could not read map state '" + stateName + "'", e);
        }
    }

    @Override
    public void clear() {
        byte[] prefix = currentKeyAndNamespace();
        try (RocksIterator iterator = newIterator(prefix);
                WriteBatch batch = new WriteBatch()) {
            for (iterator.seek(prefix);
                    iterator.isValid() && startsWith(iterator.key(), prefix);
                    iterator.next()) {
                batch.delete(columnFamily, iterator.key());
            }
            iterator.status();
            if (batch.count() > 0) {
                backend.getDb().write(backend.getWriteOptions(), batch);
            }
        } catch (RocksDBException e) {
            throw failure("clear", e);
        }
    }

    // ------------------------------------------------------------------------

    private byte[] userEntryKey(UK userKey) throws IOException {
        writeUserEntryKey(userKey);
        return keyBuilder().copy();
    }

    /** Writes the user key's RocksDB key into the shared key builder; returns its length. */
    private int writeUserEntryKey(UK userKey) throws IOException {
        return keyBuilder()
                .setNamespaceAndUserKey(
                        getCurrentNamespace(), namespaceSerializer, userKey, userKeySerializer);
    }

    private byte[] serializeUserValue(UV userValue) throws IOException {
        return serializeUserValue(userValue, userValueSerializer, valueOutput);
    }

    private static <UV> byte[] serializeUserValue(
            UV userValue, TypeSerializer<UV> serializer, DataOutputSerializer out)
            throws IOException {
        writeUserValueToValueOutput(userValue, serializer, out);
        return out.getCopyOfBuffer();
    }

    /** A null flag, then the value unless it is null. */
    private static <UV> void writeUserValueToValueOutput(
            UV userValue, TypeSerializer<UV> serializer, DataOutputSerializer out)
            throws IOException {
        out.clear();
        out.writeBoolean(userValue == null);
        if (userValue != null) {
            serializer.serialize(userValue, out);
        }
    }

    private UV deserializeUserValue(byte[] bytes, DataInputDeserializer in) throws IOException {
        return deserializeUserValue(bytes, userValueSerializer, in);
    }

    static <UV> UV deserializeUserValue(
            byte[] bytes, TypeSerializer<UV> serializer, DataInputDeserializer in)
            throws IOException {
        in.setBuffer(bytes);
        boolean isNull = in.readBoolean();
        return isNull ? null : serializer.deserialize(in);
    }

    /** An iterator that ends with the keys starting with {@code prefix}. */
    private RocksIterator newIterator(byte[] prefix) {
        return backend.getPrefixIterators().open(columnFamily, prefix);
    }

    static boolean startsWith(byte[] bytes, byte[] prefix) {
        if (bytes.length < prefix.length) {
            return false;
        }
        return Arrays.equals(bytes, 0, prefix.length, prefix, 0, prefix.length);
    }

    @Override
    protected byte[] getSerializedValue(
            SerializedCompositeKeyBuilder<K> keyBuilder,
            N namespace,
            TypeSerializer<N> safeNamespaceSerializer,
            TypeSerializer<Map<UK, UV>> safeValueSerializer)
            throws Exception {
        MapSerializer<UK, UV> mapSerializer = (MapSerializer<UK, UV>) safeValueSerializer;
        TypeSerializer<UK> keySerializer = mapSerializer.getKeySerializer();
        TypeSerializer<UV> valueSerializer = mapSerializer.getValueSerializer();
        byte[] prefix = keyBuilder.buildCompositeKeyNamespace(namespace, safeNamespaceSerializer);
        Map<UK, UV> result = new HashMap<>();
        DataInputDeserializer in = new DataInputDeserializer();
        // queryable state reads from other threads than the task's: not through PrefixIterators
        try (RocksIterator iterator =
                backend.getDb().newIterator(columnFamily, backend.getReadOptions())) {
            for (iterator.seek(prefix);
                    iterator.isValid() && startsWith(iterator.key(), prefix);
                    iterator.next()) {
                byte[] key = iterator.key();
                in.setBuffer(key, prefix.length, key.length - prefix.length);
                UK userKey = keySerializer.deserialize(in);
                result.put(userKey, deserializeUserValue(iterator.value(), valueSerializer, in));
            }
            iterator.status();
        }
        return result.isEmpty()
                ? null
                : KvStateSerializer.serializeMap(result.entrySet(), keySerializer, valueSerializer);
    }

    // ------------------------------------------------------------------------
    //  state entries for the incremental visitor: all user keys of one key and namespace
    // ------------------------------------------------------------------------

    @Override
    public int stateEntryKeyLength(byte[] rawKey) {
        TypeSerializer<K> keySerializer = backend.getKeySerializer();
        boolean ambiguous =
                CompositeKeySerializationUtils.isAmbiguousKeyPossible(
                        keySerializer, namespaceSerializer);
        int keyGroupPrefixBytes = backend.getKeyGroupPrefixBytes();
        visitorKeyInput.setBuffer(rawKey, keyGroupPrefixBytes, rawKey.length - keyGroupPrefixBytes);
        try {
            CompositeKeySerializationUtils.readKey(keySerializer, visitorKeyInput, ambiguous);
            CompositeKeySerializationUtils.readNamespace(
                    namespaceSerializer, visitorKeyInput, ambiguous);
        } catch (IOException e) {
            throw failure("read a key of", e);
        }
        return rawKey.length - visitorKeyInput.available();
    }

    @Override
    public Map<UK, UV> readStateEntry(List<byte[]> rawKeys, List<byte[]> rawValues)
            throws IOException {
        int prefixLength = stateEntryKeyLength(rawKeys.get(0));
        Map<UK, UV> result = new HashMap<>();
        for (int i = 0; i < rawKeys.size(); i++) {
            result.put(
                    readUserKey(rawKeys.get(i), prefixLength),
                    deserializeUserValue(rawValues.get(i), valueInput));
        }
        return result;
    }

    /**
     * Makes the user keys read as {@code rawKeys} hold {@code newValue}: those missing from it are
     * deleted, changed ones rewritten, new ones added; other user keys of the pair stay as they
     * are.
     */
    @Override
    public void writeStateEntry(List<byte[]> rawKeys, List<byte[]> rawValues, Map<UK, UV> newValue)
            throws IOException {
        if (newValue == null) {
            deleteStateEntry(rawKeys);
            return;
        }
        int prefixLength = stateEntryKeyLength(rawKeys.get(0));
        Set<UK> seen = new HashSet<>();
        try (WriteBatch batch = new WriteBatch()) {
            for (int i = 0; i < rawKeys.size(); i++) {
                UK userKey = readUserKey(rawKeys.get(i), prefixLength);
                seen.add(userKey);
                if (!newValue.containsKey(userKey)) {
                    batch.delete(columnFamily, rawKeys.get(i));
                    continue;
                }
                byte[] bytes = serializeUserValue(newValue.get(userKey));
                if (!Arrays.equals(bytes, rawValues.get(i))) {
                    batch.put(columnFamily, rawKeys.get(i), bytes);
                }
            }
            for (Map.Entry<UK, UV> entry : newValue.entrySet()) {
                if (!seen.contains(entry.getKey())) {
                    valueOutput.clear();
                    valueOutput.write(rawKeys.get(0), 0, prefixLength);
                    userKeySerializer.serialize(entry.getKey(), valueOutput);
                    byte[] key = valueOutput.getCopyOfBuffer();
                    batch.put(columnFamily, key, serializeUserValue(entry.getValue()));
                }
            }
            if (batch.count() > 0) {
                backend.getDb().write(backend.getWriteOptions(), batch);
            }
        } catch (RocksDBException e) {
            throw new IOException("Could not write to map state '" + stateName + "'", e);
        }
    }

    private UK readUserKey(byte[] rawKey, int prefixLength) throws IOException {
        visitorKeyInput.setBuffer(rawKey, prefixLength, rawKey.length - prefixLength);
        return userKeySerializer.deserialize(visitorKeyInput);
    }

    /** One map entry of a batch; user key and value are deserialized on demand. */
    private final class RawEntry implements Map.Entry<UK, UV> {
        private final MapEntryBatch batch;
        private final int index;
        private final int prefixLength;
        private UK userKey;
        private boolean userKeyRead;
        private UV userValue;
        private boolean userValueRead;

        RawEntry(MapEntryBatch batch, int index, int prefixLength) {
            this.batch = batch;
            this.index = index;
            this.prefixLength = prefixLength;
        }

        @Override
        public UK getKey() {
            if (!userKeyRead) {
                userKey = readUserKeyOf(batch, index, prefixLength);
                userKeyRead = true;
            }
            return userKey;
        }

        @Override
        public UV getValue() {
            if (batch.isRemoved(index)) {
                return null;
            }
            if (!userValueRead) {
                userValue = readUserValueOf(batch, index);
                userValueRead = true;
            }
            return userValue;
        }

        @Override
        public UV setValue(UV value) {
            Preconditions.checkState(!batch.isRemoved(index), "The map entry has been removed.");
            UV old = getValue();
            try {
                writeUserValueToValueOutput(value, userValueSerializer, valueOutput);
                putValueOutput(batch.bytes(), batch.keyOffset(index), batch.keyLength(index));
                userValue = value;
                userValueRead = true;
            } catch (IOException | RocksDBException e) {
                throw failure("update an entry of", e);
            }
            return old;
        }

        @Override
        public boolean equals(Object o) {
            if (this == o) {
                return true;
            }
            if (!(o instanceof Map.Entry)) {
                return false;
            }
            Map.Entry<?, ?> other = (Map.Entry<?, ?>) o;
            return java.util.Objects.equals(getKey(), other.getKey())
                    && java.util.Objects.equals(getValue(), other.getValue());
        }

        @Override
        public int hashCode() {
            // as specified by Map.Entry
            return java.util.Objects.hashCode(getKey()) ^ java.util.Objects.hashCode(getValue());
        }

        @Override
        public String toString() {
            return getKey() + "=" + getValue();
        }
    }

    private UK readUserKeyOf(MapEntryBatch batch, int index, int prefixLength) {
        try {
            iterationInput.setBuffer(
                    batch.bytes(),
                    batch.keyOffset(index) + prefixLength,
                    batch.keyLength(index) - prefixLength);
            return userKeySerializer.deserialize(iterationInput);
        } catch (IOException e) {
            throw failure("read a user key of", e);
        }
    }

    private UV readUserValueOf(MapEntryBatch batch, int index) {
        try {
            iterationInput.setBuffer(
                    batch.bytes(), batch.valueOffset(index), batch.valueLength(index));
            return iterationInput.readBoolean()
                    ? null
                    : userValueSerializer.deserialize(iterationInput);
        } catch (IOException e) {
            throw failure("read a user value of", e);
        }
    }

    private void removeEntryOf(MapEntryBatch batch, int index) {
        try {
            deleteKey(batch.bytes(), batch.keyOffset(index), batch.keyLength(index));
            batch.markRemoved(index);
        } catch (RocksDBException e) {
            throw failure("remove an entry of", e);
        }
    }

    /** What an iterator over the map hands out for the entry at an index of a batch. */
    private interface Projection<T> {
        T apply(MapEntryBatch batch, int index, int prefixLength);
    }

    /**
     * Reads the entries under one prefix in batches, resuming after the last key read, with no
     * native iterator open between two calls.
     */
    private final class EntryIterator<T> implements Iterator<T> {
        private final byte[] prefix;
        private final Projection<T> projection;
        private MapEntryBatch batch;
        private int position;
        private boolean exhausted;

        /** Where the entry last returned by next() is, for remove(); may be an earlier batch. */
        private MapEntryBatch returnedBatch;

        private int returnedIndex;

        EntryIterator(byte[] prefix, Projection<T> projection) {
            this.prefix = prefix;
            this.projection = projection;
        }

        @Override
        public boolean hasNext() {
            if (batch != null && position < batch.size()) {
                return true;
            }
            if (exhausted) {
                return false;
            }
            loadBatch();
            return position < batch.size();
        }

        @Override
        public T next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            returnedBatch = batch;
            returnedIndex = position++;
            return projection.apply(batch, returnedIndex, prefix.length);
        }

        @Override
        public void remove() {
            Preconditions.checkState(returnedBatch != null, "next() has not been called.");
            Preconditions.checkState(
                    !returnedBatch.isRemoved(returnedIndex), "The entry has already been removed.");
            removeEntryOf(returnedBatch, returnedIndex);
        }

        private void loadBatch() {
            MapEntryBatch previous = batch != null && batch.size() > 0 ? batch : null;
            MapEntryBatch next =
                    new MapEntryBatch(
                            ITERATION_BATCH_SIZE,
                            previous == null ? INITIAL_BATCH_ENTRIES : previous.size(),
                            previous == null ? INITIAL_BATCH_BYTES : previous.usedBytes());
            try (RocksIterator iterator = newIterator(prefix)) {
                exhausted = next.fill(iterator, prefix, previous);
            } catch (RocksDBException e) {
                throw new FlinkRuntimeException(
                        "Could not iterate map state '" + stateName + "'", e);
            }
            batch = next;
            position = 0;
        }
    }
}
