// The one tfjs instance the whole project uses. Import tf from here, never from a second copy.
import * as tf from '@tensorflow/tfjs';

export { tf };
