"""Order routes under /api/v1/."""

from django.urls import path

from orders import apis

urlpatterns = [
    path("orders/", apis.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<int:id>/", apis.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:id>/cancel/", apis.OrderCancelApi.as_view(), name="order-cancel"),
    path("stock/", apis.StockApi.as_view(), name="stock"),
]
