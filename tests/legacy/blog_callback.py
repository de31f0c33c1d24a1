# The blog post's callback (../shared/seeds/000_a29e986241bb8291.txt), pasted as
# a user would: every hook the post overrides, each still a stub.
import tensorflow as tf

class CustomCallback(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        # 매 Epoch 끝마다 호출되는 메서드
        # 원하는 동작을 구현하세요
        pass

    def on_train_begin(self, logs=None):
        # 훈련 시작시 호출되는 메서드
        pass

    def on_train_end(self, logs=None):
        # 훈련 종료시 호출되는 메서드
        pass

    def on_batch_begin(self, batch, logs=None):
        # 매 Batch 시작시 호출되는 메서드
        pass

    def on_batch_end(self, batch, logs=None):
        # 매 Batch 끝마다 호출되는 메서드
        pass
