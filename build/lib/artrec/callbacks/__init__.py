"""Lightning callbacks: the recommendation-evaluation callback."""
